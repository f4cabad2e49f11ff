/**
 * The questions `relay init` asks, in order: providers, then each provider's fields, key and models,
 * then strategy, port and client token. Each is answered by its flag, the person, or a default.
 */
import type { ConfigSetup, ProviderSetup } from "../../config/edit.ts";
import { STRATEGY_NAMES } from "../../routing/strategies/types.ts";
import { maskSecret } from "../../util/mask.ts";
import type { Choice, Prompter } from "../_prompts.ts";
import type { InitContext, InitOptions } from "./context.ts";
import { pathForConfig } from "./answered_path.ts";
import { answerQuestion, FIELD_FLAGS, type ScopedFlags, scopeFlags } from "./flags.ts";
import {
  fieldProblem,
  formatModels,
  keyProblem,
  kindOf,
  modelsProblem,
  offeredKinds,
  offeredModels,
  parseModels,
  portProblem,
  type ProviderKind,
  schemaDefault,
} from "./providers.ts";

/** Every question, in order; `undefined` when flags are missing or wrong and nobody can be asked. */
export async function askSetup(context: InitContext, options: InitOptions): Promise<ConfigSetup | undefined> {
  const chosen = await _chooseProviders(context, options.provider ?? []);
  if (!chosen) return undefined;
  const flags = scopeFlags(context, options, chosen);
  const providers: ProviderSetup[] = [];
  for (const provider of chosen) providers.push(await _askProvider(context, provider, flags));
  const strategy = await _askStrategy(context, providers, options.strategy);
  const port = await _askPort(context, options.port);
  const tokens = await _askTokens(context, options);
  if (context.missing.size > 0 || context.invalid.length > 0) return undefined;
  return { port, tokens, strategy, providers };
}

async function _chooseProviders(context: InitContext, flag: string[]): Promise<ProviderSetup[] | undefined> {
  const existing = context.before.providers;
  const offered = offeredKinds();
  const choices: Choice<string>[] = [
    ...existing.map((p) => ({ value: p.name, label: p.name, hint: `${p.type}, in the file now` })),
    ...offered.filter((kind) => !existing.some((p) => p.name === kind.type)).map((kind) => ({
      value: kind.type,
      label: kind.label,
      hint: kind.found?.(context) ?? kind.hint,
    })),
  ];
  const given = flag.flatMap((value) => value.split(",")).map((value) => value.trim()).filter(Boolean)
    .flatMap((value) => _inFile(existing, value));
  const valid = (values: string[]) => {
    const unknown = values.filter((value) => !choices.some((choice) => choice.value === value));
    if (unknown.length === 0) return undefined;
    return `unknown provider ${unknown.join(", ")}: expected ${
      choices.map((choice) => choice.value).join(", ")
    }`;
  };
  const defaults = existing.length > 0
    ? existing.map((p) => p.name)
    : context.yes
    ? [context.env("ANTHROPIC_API_KEY")?.trim() ? "anthropic" : "mock"]
    : undefined;
  const detected = offered.filter((kind) => kind.found?.(context)).map((kind) => kind.type);
  const picked = await answerQuestion(context, {
    flag: "--provider",
    given: given.length > 0 ? given : undefined,
    suggested: defaults,
    validate: valid,
    ask: (prompter) =>
      prompter.multiselect({
        message: "Which providers should relay use? (space selects, enter confirms)",
        options: choices,
        initial: existing.length > 0 ? existing.map((p) => p.name) : detected,
      }),
  });
  if (!picked || context.invalid.length > 0) return undefined;
  const taken = new Set(existing.map((p) => p.name));
  return [...new Set(picked)].map((value) => {
    const old = existing.find((p) => p.name === value);
    if (old) return old;
    let name = value;
    for (let n = 2; taken.has(name); n++) name = `${value}-${n}`;
    taken.add(name);
    return { name, type: value };
  });
}

/**
 * The providers a `--provider` value stands for: the file's provider of that name, else the file's
 * providers of that type, all of them (picking one would drop the others' settings), else the value,
 * a new provider of that type.
 */
function _inFile(existing: ProviderSetup[], value: string): string[] {
  if (existing.some((p) => p.name === value)) return [value];
  const ofType = existing.filter((p) => p.type === value).map((p) => p.name);
  return ofType.length > 0 ? ofType : [value];
}

async function _askProvider(
  context: InitContext,
  chosen: ProviderSetup,
  flags: ScopedFlags,
): Promise<ProviderSetup> {
  const old = context.before.providers.find((p) => p.name === chosen.name);
  const kind = kindOf(chosen.type);
  const setup: ProviderSetup = { ...chosen };
  // A type relay init does not know yet keeps whatever the file says.
  if (!kind) return setup;
  context.prompter?.log("step", `${setup.name}: ${kind.label}`);
  for (const question of kind.fields) {
    const given = flags.fields[question.field].get(setup.name);
    if (question.flagOnly && given === undefined) continue;
    const current = old ? old[question.field] ?? "" : question.suggest(context, setup);
    const validate = (value: string) => fieldProblem(kind.type, question.field, value);
    const answer = await answerQuestion(context, {
      flag: FIELD_FLAGS[question.field].flag,
      given,
      suggested: current,
      validate,
      ask: (prompter) =>
        question.choices
          ? prompter.select({
            message: question.message,
            options: question.choices(context),
            initial: current,
          })
          : prompter.text({ message: question.message, initial: current, validate }),
    });
    if (answer === undefined) continue;
    const leaveOut = answer === "" || (!old && answer === schemaDefault(kind.type, question.field));
    if (leaveOut) delete setup[question.field];
    // The file's own value, kept, is read from its folder already; a flag or a new answer from the folder
    // init runs in.
    else if (question.path && (given !== undefined || answer !== old?.[question.field])) {
      setup[question.field] = pathForConfig(answer, context.path, context.cwd);
    } else setup[question.field] = answer;
  }
  const keyFlag = flags.key.get(setup.name);
  if (kind.key === "asked" || kind.key === "optional" || keyFlag !== undefined || old?.key !== undefined) {
    const variable = kind.keyVar;
    // A provider the file has without a key stays so unless told otherwise.
    const keyless = old !== undefined && old.key === undefined;
    const fresh = variable && context.env(variable)
      ? `\${${variable}}`
      : _keyNeeded(kind, setup)
      ? undefined
      : "";
    setup.key = await answerQuestion(context, {
      flag: "--key",
      given: keyFlag,
      suggested: old ? old.key ?? "" : fresh,
      validate: keyProblem,
      ask: (prompter) => askKey(prompter, context, setup, kind, { current: old?.key, keyless }),
    });
    if (!setup.key) delete setup.key;
  }
  const modelFlag = flags.models.get(setup.name);
  if (kind.models !== undefined || modelFlag !== undefined || old?.models !== undefined) {
    const current = old ? formatModels(old.models) : offeredModels(kind, setup) ?? "";
    const answer = await answerQuestion(context, {
      flag: "--model",
      given: modelFlag?.join(", "),
      suggested: current,
      validate: modelsProblem,
      ask: (prompter) =>
        prompter.text({
          message: "Models, as name clients ask for=upstream id, comma-separated (empty: any model as named)",
          initial: current,
          validate: modelsProblem,
        }),
    });
    if (answer !== undefined) setup.models = parseModels(answer);
    if (setup.models === undefined) delete setup.models;
  }
  return setup;
}

/** What {@linkcode askKey} knows of the key it asks for. */
export interface KeyAsked {
  /** The key the file has. */
  current?: string;
  /** `current` was rejected: another key is wanted, pasted unless chosen otherwise, and it is not offered. */
  again?: boolean;
  /** The file has the provider without a key: "no key" is the default answer. */
  keyless?: boolean;
}

/** How relay gets `setup`'s key: kept, a `${VAR}` reference, pasted or none. */
export async function askKey(
  prompter: Prompter,
  context: InitContext,
  setup: ProviderSetup,
  kind: ProviderKind,
  { current, again = false, keyless = false }: KeyAsked = {},
): Promise<string> {
  const { name } = setup;
  const variable = kind.keyVar;
  const set = variable !== undefined && Boolean(context.env(variable));
  const needed = !keyless && _keyNeeded(kind, setup);
  const options: Choice<string>[] = [
    ...(current === undefined || again ? [] : [{ value: "keep", label: `keep ${_describeKey(current)}` }]),
    ...(variable === undefined ? [] : [{
      value: "reference",
      label: `\${${variable}} (recommended)`,
      hint: set ? `${variable} is set; relay reads it at start` : `${variable} is not set in this shell`,
    }]),
    { value: "variable", label: "another environment variable", hint: "relay reads it at start" },
    { value: "paste", label: "paste the key", hint: "stored in the file, which only you can read" },
    ...(kind.key === "optional" && current === undefined
      ? [{ value: "none", label: "no key", hint: "for a server that takes none" }]
      : []),
  ];
  const how = await prompter.select({
    message: `${name}: how should relay get the key?`,
    options,
    initial: again
      ? "paste"
      : current !== undefined
      ? "keep"
      : set && !keyless
      ? "reference"
      : needed
      ? "paste"
      : "none",
  });
  switch (how) {
    case "keep":
      return current!;
    case "none":
      return "";
    case "reference":
      return `\${${variable}}`;
    case "variable": {
      const chosen = await prompter.text({
        message: "Variable name",
        initial: `${kind.type.toUpperCase().replaceAll("-", "_")}_API_KEY`,
        validate: (value) =>
          /^[A-Za-z_][A-Za-z0-9_]*$/.test(value)
            ? undefined
            : "letters, digits and _, not starting with a digit",
      });
      return `\${${chosen}}`;
    }
    default:
      return await prompter.password({ message: `${name} key`, validate: keyProblem });
  }
}

/** What each strategy does, for the choice; a strategy not described here is still offered. */
const _STRATEGY_HINTS: Partial<Record<string, string>> = {
  failover: "the first healthy provider, in listed order",
  round_robin: "take turns",
  shuffle: "at random, weighted by the keys' remaining capacity",
  least_busy: "the one with the fewest requests in flight",
  latency: "the fastest to its first byte, still trying the others now and then",
  cost: "the cheapest, by providers[].prices (set in the file)",
  model: "by routing.model_routes (set in the file)",
};

/** `routing.strategy`, asked only when there is a choice to make: more than one provider. */
async function _askStrategy(
  context: InitContext,
  providers: ProviderSetup[],
  flag: string | undefined,
): Promise<string | undefined> {
  const current = context.before.strategy ?? "failover";
  const names: readonly string[] = STRATEGY_NAMES;
  const validate = (value: string) =>
    names.includes(value) ? undefined : `unknown strategy ${value}: expected ${names.join(", ")}`;
  if (flag === undefined && providers.length < 2) return context.before.strategy;
  const answer = await answerQuestion(context, {
    flag: "--strategy",
    given: flag,
    suggested: current,
    validate,
    ask: (prompter) =>
      prompter.select({
        message: `How should relay pick among ${providers.map((p) => p.name).join(", ")}?`,
        options: names.map((name) => ({ value: name, label: name, hint: _STRATEGY_HINTS[name] })),
        initial: current,
      }),
  });
  // The default is left unwritten, so a file without `routing:` does not grow one for nothing.
  return answer === current && context.before.strategy === undefined ? undefined : answer;
}

async function _askPort(
  context: InitContext,
  flag: string | undefined,
): Promise<number | string | undefined> {
  const before = context.before.port;
  const current = before === undefined ? "8787" : String(before);
  const validate = (value: string) => (value === current ? undefined : portProblem(value));
  const answer = await answerQuestion(context, {
    flag: "--port",
    given: flag,
    suggested: current,
    validate,
    ask: (prompter) => prompter.text({ message: "Port relay listens on", initial: current, validate }),
  });
  // An untouched `${RELAY_PORT:-8787}` stays a reference.
  return answer === undefined || answer === String(before) ? before : Number(answer);
}

async function _askTokens(context: InitContext, options: InitOptions): Promise<string[]> {
  if (options.token !== undefined) return [options.token];
  const current = context.before.tokens ?? [];
  if (current.length === 0) return [_newToken()];
  const how = await answerQuestion(context, {
    flag: "--new-token",
    given: options.newToken ? "new" : undefined,
    suggested: "keep",
    ask: (prompter) =>
      prompter.select({
        message: "Client token (what Claude Code sends to relay)",
        options: [
          { value: "keep", label: `keep ${current.map(_describeKey).join(", ")}` },
          { value: "new", label: "a new random token", hint: "clients using the old one stop working" },
        ],
        initial: "keep",
      }),
  });
  return how === "new" ? [_newToken()] : current;
}

/**
 * Whether `setup` needs a key: a type that asks for one does; one whose key is optional (OpenAI-compatible
 * servers) does when it is reached over https, a hosted API (OpenAI's own, OpenRouter, Groq) rather than
 * a server on this machine or network (vLLM, LM Studio, llama.cpp), which most often takes none.
 */
function _keyNeeded(kind: ProviderKind, setup: ProviderSetup): boolean {
  if (kind.key !== "optional") return kind.key === "asked";
  return (setup.base_url ?? schemaDefault(kind.type, "base_url") ?? "").startsWith("https:");
}

function _describeKey(key: string): string {
  return key.includes("${") ? key : maskSecret(key);
}

function _newToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `rly_${Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("")}`;
}
