import { Command } from "@commander-js/extra-typings";
import { join } from "node:path";
import { parseDocument, visit } from "yaml";
import { formatDiff } from "../config/diff.ts";
import { applySetup, type ConfigSetup, type ProviderSetup, readSetup } from "../config/edit.ts";
import { type EnvLookup, expandString } from "../config/env_expand.ts";
import { ConfigError } from "../config/errors.ts";
import { type ConfigSource, findConfigPath } from "../config/find.ts";
import { parseConfig } from "../config/load.ts";
import {
  type Config,
  configSchema,
  PROVIDER_TYPES,
  type ProviderType,
  type UpstreamProviderConfig,
} from "../config/schema.ts";
import { writeFileAtomic } from "../config/write.ts";
import { checkKey, type KeyCheck } from "../providers/validate_key.ts";
import { modelMapProblems } from "../routing/model_map.ts";
import { STRATEGY_NAMES } from "../routing/strategies/types.ts";
import { maskSecret } from "../util/mask.ts";
import { reportConfigError } from "./_config_error.ts";
import {
  Cancelled,
  canPrompt,
  type Choice,
  plainReporter,
  type Prompter,
  type Reporter,
  terminalPrompter,
} from "./_prompts.ts";
import { claudeCodeEnv, formatExports, shellQuote } from "./env.ts";

/**
 * `relay init`: from nothing (or an existing config) to a private config file Claude Code can use,
 * by asking at a terminal or from flags alone. Exits 0 when written, 1 when refused or declined, 2 when
 * flags are missing or wrong and nobody can be asked, 130 when cancelled (nothing is left behind).
 */
export function initCommand(setExitCode: (code: number) => void) {
  return new Command("init")
    .description("set relay up (providers, keys, port, client token) in a private config file")
    .option(
      "-c, --config <path>",
      "file to write (default: the config relay would use, else ~/.config/relay/relay.yaml)",
    )
    .option(
      "--provider <types>",
      `providers to use, repeatable or comma-separated: ${_offeredKinds().map((k) => k.type).join(", ")}`,
      _collect,
    )
    .option("--key <[provider:]key>", "a key, or a ${VAR} reference to one (recommended)", _collect)
    .option("--base-url <[provider:]url>", "a provider's API root", _collect)
    .option("--region <[provider:]region>", "bedrock or vertex region", _collect)
    .option("--project <[provider:]id>", "vertex: the Google Cloud project", _collect)
    .option("--aws-profile <[provider:]name>", "bedrock: a profile in ~/.aws/credentials", _collect)
    .option("--credentials-file <[provider:]path>", "vertex: a service-account JSON file", _collect)
    .option(
      "--model <[provider:]name=id>",
      "a model a provider serves: the name clients ask for = the upstream's id (repeatable)",
      _collect,
    )
    .option(
      "--strategy <name>",
      `how relay picks among several providers: ${STRATEGY_NAMES.join(", ")} (default: failover)`,
    )
    .option("-p, --port <port>", "port relay listens on (default: 8787, or the file's)")
    .option("--token <token>", "the token clients send (default: a new random one, or the file's)")
    .option("--new-token", "replace the file's client tokens with a new random one")
    .option("--validate", "check each key with one real call (asked at a terminal)")
    .option("--no-validate", "do not check keys")
    .option(
      "-y, --yes",
      "ask nothing: take the default wherever no flag answers, and replace an existing file (a backup is kept)",
    )
    .action(async (options) => setExitCode(await _init(options)));
}

interface _InitOptions {
  config?: string;
  provider?: string[];
  key?: string[];
  baseUrl?: string[];
  region?: string[];
  project?: string[];
  awsProfile?: string[];
  credentialsFile?: string[];
  model?: string[];
  strategy?: string;
  port?: string;
  token?: string;
  newToken?: true;
  validate?: boolean;
  yes?: true;
}

type _Field = "base_url" | "region" | "project" | "credentials_file" | "aws_profile";

/** One per-provider question besides key and models. */
interface _FieldQuestion {
  field: _Field;
  message: string;
  /** The answer offered for a new provider; `""` leaves the field out, `undefined` means none can be guessed. */
  suggest: (context: _Context) => string | undefined;
  /** Set only by its flag: asking would be noise for nearly everyone. */
  flagOnly?: true;
  /** Named choices instead of free text; the value `""` leaves the field out. */
  choices?: (context: _Context) => Choice<string>[];
}

/** What `relay init` knows about one provider type. Offering a new type is one entry in {@linkcode _KINDS}. */
interface _ProviderKind {
  type: ProviderType;
  label: string;
  hint: string;
  /** Where its key conventionally lives, offered as a `${VAR}` reference. */
  keyVar?: string;
  /**
   * `asked`: the type needs a key; `optional`: asked, "no key" allowed; `flag`: set by --key only (a
   * key is rare); `none`: it takes none.
   */
  key: "asked" | "optional" | "flag" | "none";
  fields: _FieldQuestion[];
  /** The `models:` table offered (`name=id, ...`); asked only when set, `""` offering none. */
  models?: string;
  /** An Anthropic-format upstream, so its key can be tried with `GET /v1/models`. */
  checksKey?: true;
  /** What on this machine suggests it, for the list of findings. */
  found?: (context: _Context) => string | undefined;
}

interface _Context {
  env: EnvLookup;
  path: string;
  source: ConfigSource;
  /** The file's text when it exists: it is edited, not overwritten. */
  existing?: string;
  before: ConfigSetup;
  awsProfiles: string[];
  /** Set when a person is there to ask. */
  prompter?: Prompter;
  out: Reporter;
  yes: boolean;
  /** Flags a non-interactive run needed but did not get. */
  missing: Set<string>;
  /** Flags given with values that cannot be used. */
  invalid: string[];
  signal: AbortSignal;
}

const _found = (context: _Context, name: string) => context.env(name) ? `${name} is set` : undefined;

const _KINDS: readonly _ProviderKind[] = [
  {
    type: "anthropic",
    label: "Anthropic",
    hint: "the Anthropic API, with an API key",
    keyVar: "ANTHROPIC_API_KEY",
    key: "asked",
    fields: [{ field: "base_url", message: "API root", suggest: () => "", flagOnly: true }],
    checksKey: true,
    found: (context) => _found(context, "ANTHROPIC_API_KEY"),
  },
  {
    type: "anthropic-compatible",
    label: "Anthropic-compatible gateway",
    hint: "any other endpoint speaking the Messages API",
    key: "asked",
    fields: [{
      field: "base_url",
      message: "The gateway's API root (without /v1/messages)",
      suggest: () => undefined,
    }],
    models: "",
    checksKey: true,
  },
  {
    type: "zai",
    label: "Z.AI",
    hint: "GLM models through Z.AI's Anthropic endpoint",
    keyVar: "ZAI_API_KEY",
    key: "asked",
    fields: [{ field: "base_url", message: "API root", suggest: () => "", flagOnly: true }],
    models: "claude-*=GLM-4.7",
    checksKey: true,
    found: (context) => _found(context, "ZAI_API_KEY"),
  },
  {
    type: "ollama",
    label: "Ollama",
    hint: "local models (Ollama 0.14 or later), no key",
    key: "flag",
    fields: [{
      field: "base_url",
      message: "Ollama's URL",
      suggest: () => _schemaDefault("ollama", "base_url"),
    }],
    models: "",
  },
  {
    type: "bedrock",
    label: "Amazon Bedrock",
    hint: "AWS credentials, requests signed with SigV4",
    key: "flag",
    fields: [
      {
        field: "region",
        message: "AWS region",
        suggest: (context) => context.env("AWS_REGION") || context.env("AWS_DEFAULT_REGION") || "us-east-1",
      },
      {
        field: "aws_profile",
        message: "AWS credentials",
        suggest: () => "",
        choices: (context) => [
          { value: "", label: "the default chain", hint: "AWS_* variables, then AWS_PROFILE or [default]" },
          ...context.awsProfiles.map((profile) => ({ value: profile, label: `profile ${profile}` })),
        ],
      },
    ],
    models: "claude-sonnet-4-5=us.anthropic.claude-sonnet-4-5-20250929-v1:0, " +
      "claude-haiku-4-5=us.anthropic.claude-haiku-4-5-20251001-v1:0",
    found: (context) => {
      const found = [
        context.env("AWS_ACCESS_KEY_ID") && "AWS_ACCESS_KEY_ID is set",
        context.awsProfiles.length > 0 && `AWS profiles: ${context.awsProfiles.join(", ")}`,
      ].filter(Boolean);
      return found.length > 0 ? found.join("; ") : undefined;
    },
  },
  {
    type: "vertex",
    label: "Google Vertex AI",
    hint: "a Google Cloud service account",
    key: "none",
    fields: [
      {
        field: "project",
        message: "Google Cloud project id",
        suggest: (context) =>
          context.env("ANTHROPIC_VERTEX_PROJECT_ID") || context.env("GOOGLE_CLOUD_PROJECT") || undefined,
      },
      {
        field: "region",
        message: "Vertex region (a region, global, us or eu)",
        suggest: (context) => context.env("CLOUD_ML_REGION") || "global",
      },
      {
        field: "credentials_file",
        message: "Service-account JSON file",
        suggest: (context) => context.env("GOOGLE_APPLICATION_CREDENTIALS") || undefined,
      },
    ],
    models: "claude-sonnet-4-5=claude-sonnet-4-5@20250929",
    found: (context) => _found(context, "GOOGLE_APPLICATION_CREDENTIALS"),
  },
  {
    type: "azure",
    label: "Microsoft Foundry",
    hint: "Claude on Azure, with a key",
    keyVar: "AZURE_API_KEY",
    key: "asked",
    fields: [{
      field: "base_url",
      message: "Resource endpoint (https://<resource>.services.ai.azure.com/anthropic)",
      suggest: () => undefined,
    }],
    models: "",
    found: (context) => _found(context, "AZURE_API_KEY"),
  },
  {
    type: "openai",
    label: "OpenAI-compatible",
    hint: "Chat Completions: OpenAI, OpenRouter, vLLM, LM Studio, llama.cpp",
    keyVar: "OPENAI_API_KEY",
    key: "optional",
    fields: [{
      field: "base_url",
      message: "API root, with its version path",
      suggest: () => _schemaDefault("openai", "base_url"),
    }],
    models: "",
    found: (context) => _found(context, "OPENAI_API_KEY"),
  },
  {
    type: "mock",
    label: "Mock",
    hint: "canned answers, no upstream: try relay without a key",
    key: "flag",
    fields: [],
  },
];

const _FIELD_FLAGS: Record<_Field, { flag: string; option: keyof _InitOptions }> = {
  base_url: { flag: "--base-url", option: "baseUrl" },
  region: { flag: "--region", option: "region" },
  project: { flag: "--project", option: "project" },
  credentials_file: { flag: "--credentials-file", option: "credentialsFile" },
  aws_profile: { flag: "--aws-profile", option: "awsProfile" },
};

const _NEW_FILE = [
  "# relay's config, written by `relay init` (run it again to change it: comments you add are kept).",
  "# relay.example.yaml documents every field. It holds secrets: keep it private (chmod 600).",
  "",
].join("\n");

async function _init(options: _InitOptions): Promise<number> {
  const controller = new AbortController();
  // Between questions the terminal is not raw, so Ctrl-C arrives as SIGINT: it must cancel, not kill,
  // or a temporary file could be left behind.
  const onSignal = () => controller.abort(new Cancelled());
  Deno.addSignalListener("SIGINT", onSignal);
  try {
    return await _run(options, controller.signal);
  } catch (error) {
    if (error instanceof Cancelled) {
      console.error("Cancelled: nothing was written.");
      return 130;
    }
    return reportConfigError(error);
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
  }
}

async function _run(options: _InitOptions, signal: AbortSignal): Promise<number> {
  const env: EnvLookup = (name) => Deno.env.get(name);
  const home = env("HOME") ?? "/";
  const inCwd = join(Deno.cwd(), "relay.yaml");
  // Counting every candidate but ./relay.yaml as present makes the XDG path the fallback, so the file
  // written is the one relay will find.
  const { path, source } = findConfigPath({
    flag: options.config,
    env,
    cwd: Deno.cwd(),
    home,
    exists: (candidate) => candidate !== inCwd || _isFile(candidate),
  })!;
  const existing = await _readExisting(path);
  const prompter = !options.yes && canPrompt() ? await terminalPrompter(signal) : undefined;
  const context: _Context = {
    env,
    path,
    source,
    existing,
    before: existing === undefined ? { providers: [] } : readSetup(existing, path),
    awsProfiles: _awsProfiles(env, home),
    prompter,
    out: prompter ?? plainReporter,
    yes: options.yes === true,
    missing: new Set(),
    invalid: [],
    signal,
  };
  if (prompter) {
    prompter.intro("relay init");
    const findings = _findings(context);
    if (findings.length > 0) prompter.note(findings.join("\n"), "Found");
  }
  if (existing !== undefined && !prompter && !context.yes) context.missing.add("--yes");

  const setup = await _ask(context, options);
  if (!setup) return _refuseFlags(context);
  let built = _build(context, setup);
  const checked = await _checkKeys(context, setup, built, options.validate);
  if (checked === "refused") return 1;
  built = checked;
  for (const warning of built.warnings) context.out.log("warn", warning);

  if (existing !== undefined) {
    const secrets = _secrets(context.before, setup);
    const diff = formatDiff(_redact(existing, secrets), _redact(built.text, secrets), {
      from: path,
      to: `${path} (new)`,
    });
    if (diff === "") {
      context.out.outro(`${path} already holds these answers: nothing to change.`);
      return 0;
    }
    context.out.note(diff, "Changes");
    const replace = prompter
      ? await prompter.confirm({
        message: `Replace ${path}? The old file is kept as a backup.`,
        initial: true,
      })
      : true;
    if (!replace) {
      context.out.outro("Nothing was written.");
      return 1;
    }
  }
  const written = await writeFileAtomic(path, built.text, {
    backupAt: existing === undefined ? undefined : new Date(),
    signal,
  });
  context.out.log(
    "success",
    `Wrote ${path} (mode 0600${written.createdFolder ? ", in a new folder with mode 0700" : ""}).` +
      (written.backup ? `\nThe old file is kept as ${written.backup} (mode 0600).` : ""),
  );
  context.out.note(_nextSteps(context, built), "Next");
  context.out.outro("relay is set up.");
  return 0;
}

/** Every question, in order; `undefined` when flags are missing or wrong and nobody can be asked. */
async function _ask(context: _Context, options: _InitOptions): Promise<ConfigSetup | undefined> {
  const chosen = await _chooseProviders(context, options.provider ?? []);
  if (!chosen) return undefined;
  const flags = _scopeFlags(context, options, chosen);
  const providers: ProviderSetup[] = [];
  for (const provider of chosen) providers.push(await _askProvider(context, provider, flags));
  const strategy = await _askStrategy(context, providers, options.strategy);
  const port = await _askPort(context, options.port);
  const tokens = await _askTokens(context, options);
  if (context.missing.size > 0 || context.invalid.length > 0) return undefined;
  return { port, tokens, strategy, providers };
}

async function _chooseProviders(context: _Context, flag: string[]): Promise<ProviderSetup[] | undefined> {
  const existing = context.before.providers;
  const offered = _offeredKinds();
  const choices: Choice<string>[] = [
    ...existing.map((p) => ({ value: p.name, label: p.name, hint: `${p.type}, in the file now` })),
    ...offered.filter((kind) => !existing.some((p) => p.name === kind.type)).map((kind) => ({
      value: kind.type,
      label: kind.label,
      hint: kind.found?.(context) ?? kind.hint,
    })),
  ];
  const given = flag.flatMap((value) => value.split(",")).map((value) => value.trim()).filter(Boolean);
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
    ? [context.env("ANTHROPIC_API_KEY") ? "anthropic" : "mock"]
    : undefined;
  const detected = offered.filter((kind) => kind.found?.(context)).map((kind) => kind.type);
  const picked = await _answer(context, {
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

interface _ScopedFlags {
  fields: Record<_Field, Map<string, string>>;
  key: Map<string, string>;
  models: Map<string, string[]>;
}

async function _askProvider(
  context: _Context,
  chosen: ProviderSetup,
  flags: _ScopedFlags,
): Promise<ProviderSetup> {
  const old = context.before.providers.find((p) => p.name === chosen.name);
  const kind = _kind(chosen.type);
  const setup: ProviderSetup = { ...chosen };
  // A type relay init does not know yet keeps whatever the file says.
  if (!kind) return setup;
  context.prompter?.log("step", `${setup.name}: ${kind.label}`);
  for (const question of kind.fields) {
    const given = flags.fields[question.field].get(setup.name);
    if (question.flagOnly && given === undefined) continue;
    const current = old ? old[question.field] ?? "" : question.suggest(context);
    const validate = (value: string) => _fieldProblem(kind.type, question.field, value);
    const answer = await _answer(context, {
      flag: _FIELD_FLAGS[question.field].flag,
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
    const leaveOut = answer === "" || (!old && answer === _schemaDefault(kind.type, question.field));
    if (leaveOut) delete setup[question.field];
    else setup[question.field] = answer;
  }
  const keyFlag = flags.key.get(setup.name);
  if (kind.key === "asked" || kind.key === "optional" || keyFlag !== undefined || old?.key !== undefined) {
    const variable = kind.keyVar;
    const fallback = kind.key === "optional" ? "" : undefined;
    setup.key = await _answer(context, {
      flag: "--key",
      given: keyFlag,
      suggested: old?.key ?? (variable && context.env(variable) ? `\${${variable}}` : fallback),
      validate: _keyProblem,
      ask: (prompter) => _askKey(prompter, context, setup.name, kind, old?.key),
    });
    if (!setup.key) delete setup.key;
  }
  const modelFlag = flags.models.get(setup.name);
  if (kind.models !== undefined || modelFlag !== undefined || old?.models !== undefined) {
    const current = old ? _formatModels(old.models) : kind.models ?? "";
    const answer = await _answer(context, {
      flag: "--model",
      given: modelFlag?.join(", "),
      suggested: current,
      validate: _modelsProblem,
      ask: (prompter) =>
        prompter.text({
          message: "Models, as name clients ask for=upstream id, comma-separated (empty: any model as named)",
          initial: current,
          validate: _modelsProblem,
        }),
    });
    if (answer !== undefined) setup.models = _parseModels(answer);
    if (setup.models === undefined) delete setup.models;
  }
  return setup;
}

async function _askKey(
  prompter: Prompter,
  context: _Context,
  name: string,
  kind: _ProviderKind,
  current: string | undefined,
): Promise<string> {
  const variable = kind.keyVar;
  const set = variable !== undefined && Boolean(context.env(variable));
  const options: Choice<string>[] = [
    ...(current === undefined ? [] : [{ value: "keep", label: `keep ${_describeKey(current)}` }]),
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
    initial: current !== undefined ? "keep" : set ? "reference" : kind.key === "optional" ? "none" : "paste",
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
      return await prompter.password({ message: `${name} key`, validate: _keyProblem });
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
  context: _Context,
  providers: ProviderSetup[],
  flag: string | undefined,
): Promise<string | undefined> {
  const current = context.before.strategy ?? "failover";
  const names: readonly string[] = STRATEGY_NAMES;
  const validate = (value: string) =>
    names.includes(value) ? undefined : `unknown strategy ${value}: expected ${names.join(", ")}`;
  if (flag === undefined && providers.length < 2) return context.before.strategy;
  const answer = await _answer(context, {
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

async function _askPort(context: _Context, flag: string | undefined): Promise<number | string | undefined> {
  const before = context.before.port;
  const current = before === undefined ? "8787" : String(before);
  const validate = (value: string) => (value === current ? undefined : _portProblem(value));
  const answer = await _answer(context, {
    flag: "--port",
    given: flag,
    suggested: current,
    validate,
    ask: (prompter) => prompter.text({ message: "Port relay listens on", initial: current, validate }),
  });
  // An untouched `${RELAY_PORT:-8787}` stays a reference.
  return answer === undefined || answer === String(before) ? before : Number(answer);
}

async function _askTokens(context: _Context, options: _InitOptions): Promise<string[]> {
  if (options.token !== undefined) return [options.token];
  const current = context.before.tokens ?? [];
  if (current.length === 0) return [_newToken()];
  const how = await _answer(context, {
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
 * Offers to try every key that can be tried, and does. A rejected key is asked again at a terminal and
 * refuses the save without one; an unreachable upstream never blocks it.
 */
async function _checkKeys(
  context: _Context,
  setup: ConfigSetup,
  built: _Built,
  flag: boolean | undefined,
): Promise<_Built | "refused"> {
  const checkable = setup.providers.filter((p) => _kind(p.type)?.checksKey && p.key !== undefined);
  if (checkable.length === 0) return built;
  const check = await _answer(context, {
    flag: "--validate",
    given: flag,
    suggested: false,
    ask: (prompter) =>
      prompter.confirm({
        message: `Check the ${checkable.map((p) => p.name).join(", ")} key with one real call ` +
          "(GET /v1/models, no tokens spent)?",
        initial: true,
      }),
  });
  if (!check) return built;
  for (const provider of checkable) {
    for (;;) {
      const result = await _checkOne(context, provider, built);
      if (result?.outcome !== "rejected") break;
      if (!context.prompter) {
        context.out.log("error", "Nothing was written: fix the key, or leave out --validate.");
        return "refused";
      }
      const retry = await context.prompter.confirm({
        message: `Enter another ${provider.name} key?`,
        initial: true,
      });
      if (!retry) break;
      provider.key = await _askKey(
        context.prompter,
        context,
        provider.name,
        _kind(provider.type)!,
        provider.key,
      );
      built = _build(context, setup);
    }
  }
  return built;
}

async function _checkOne(
  context: _Context,
  provider: ProviderSetup,
  built: _Built,
): Promise<KeyCheck | undefined> {
  const unset = _references(provider.key ?? "").filter((name) => built.unset.includes(name));
  if (unset.length > 0) {
    context.out.log(
      "warn",
      `${provider.name}: key not checked: ${unset.join(", ")} is not set in this shell`,
    );
    return undefined;
  }
  const config = built.config.providers.find((p) => p.name === provider.name) as UpstreamProviderConfig;
  context.out.log("step", `${provider.name}: trying the key at ${config.base_url} ...`);
  const result = await checkKey(config, config.keys[0].key, { signal: context.signal });
  const [kind, text] = _OUTCOMES[result.outcome];
  context.out.log(kind, `${provider.name}: ${text} (${result.detail})`);
  return result;
}

const _OUTCOMES: Record<KeyCheck["outcome"], ["success" | "warn" | "error", string]> = {
  works: ["success", "the key works"],
  rejected: ["error", "the key was rejected"],
  unreachable: ["warn", "unreachable, so the key is unchecked; the config is saved anyway"],
  unexpected: ["warn", "could not tell whether the key works"],
};

/** Which providers a per-provider flag can be for, and which of those ask for it at a terminal. */
interface _Takers {
  accepts: (provider: ProviderSetup) => boolean;
  asks: (provider: ProviderSetup) => boolean;
}

/** Per-provider flags (`[provider:]value`) sorted to the providers they are for. */
function _scopeFlags(context: _Context, options: _InitOptions, providers: ProviderSetup[]): _ScopedFlags {
  const kind = (p: ProviderSetup) => _kind(p.type);
  const single = (flag: string, values: string[], takers: _Takers) => {
    const out = new Map<string, string>();
    for (const [name, list] of _scope(context, flag, values, providers, takers)) {
      if (list.length > 1) context.invalid.push(`${flag}: given ${list.length} times for ${name}`);
      out.set(name, list[0]);
    }
    return out;
  };
  const question = (p: ProviderSetup, field: _Field) => kind(p)?.fields.find((q) => q.field === field);
  const fields = Object.fromEntries(
    (Object.keys(_FIELD_FLAGS) as _Field[]).map((field) => {
      const { flag, option } = _FIELD_FLAGS[field];
      return [
        field,
        single(flag, (options[option] ?? []) as string[], {
          accepts: (p) => question(p, field) !== undefined,
          asks: (p) => Boolean(question(p, field)) && !question(p, field)?.flagOnly,
        }),
      ];
    }),
  ) as Record<_Field, Map<string, string>>;
  return {
    fields,
    key: single("--key", options.key ?? [], {
      accepts: (p) => (kind(p)?.key ?? "none") !== "none",
      asks: (p) => kind(p)?.key === "asked" || kind(p)?.key === "optional",
    }),
    models: _scope(context, "--model", options.model ?? [], providers, {
      accepts: () => true,
      asks: (p) => kind(p)?.models !== undefined,
    }),
  };
}

/**
 * Sorts one flag's values to providers. `name:value` (or `type:value`) is for that provider; a bare
 * value is for the one provider that asks for it (a key goes to Anthropic, not to the mock beside it),
 * else the one that takes it at all.
 */
function _scope(
  context: _Context,
  flag: string,
  values: string[],
  providers: ProviderSetup[],
  takers: _Takers,
): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const value of values) {
    const prefix = /^([\w-]+):(.*)$/s.exec(value);
    const named = prefix
      ? providers.find((p) => p.name === prefix[1]) ?? _only(providers.filter((p) => p.type === prefix[1]))
      : undefined;
    const askers = providers.filter(takers.asks);
    const candidates = askers.length > 0 ? askers : providers.filter(takers.accepts);
    const target = named ?? _only(candidates);
    if (!target) {
      context.invalid.push(
        candidates.length === 0
          ? `${flag}: none of the chosen providers (${providers.map((p) => p.name).join(", ")}) takes it`
          : `${flag}: several providers take it (${candidates.map((p) => p.name).join(", ")}): ` +
            `say which, e.g. ${flag} ${candidates[0].name}:...`,
      );
      continue;
    }
    if (!takers.accepts(target)) {
      context.invalid.push(`${flag}: ${target.name} (${target.type}) does not take it`);
      continue;
    }
    out.set(target.name, [...out.get(target.name) ?? [], named ? prefix![2] : value]);
  }
  return out;
}

/**
 * One question: its flag's value when given (checked), else the person's answer, else (nobody to ask)
 * the suggested default, or a note that the flag is needed.
 */
async function _answer<T>(
  context: _Context,
  question: {
    flag: string;
    given?: T;
    suggested?: T;
    validate?: (value: T) => string | undefined;
    ask: (prompter: Prompter) => Promise<T>;
  },
): Promise<T | undefined> {
  const { prompter } = context;
  if (question.given !== undefined) {
    // The value is not echoed: it may be a key.
    const problem = question.validate?.(question.given);
    if (!problem) return question.given;
    if (!prompter) {
      context.invalid.push(`${question.flag}: ${problem}`);
      return undefined;
    }
    prompter.log("warn", `${question.flag}: ${problem}`);
  }
  if (prompter) return await question.ask(prompter);
  if (question.suggested === undefined) context.missing.add(question.flag);
  return question.suggested;
}

function _refuseFlags(context: _Context): number {
  for (const problem of context.invalid) console.error(`relay init: ${problem}`);
  if (context.missing.size > 0) {
    const flags = [...context.missing].join(", ");
    console.error(
      context.yes
        ? `relay init --yes still needs ${flags}: there is no default for ${
          context.missing.size > 1 ? "them" : "it"
        }.`
        : `relay init has no terminal to ask at (or was told not to ask), so it needs ${flags}` +
          (context.missing.has("--yes") ? "" : ", or --yes to take the defaults") + ".",
    );
    if (context.missing.has("--yes") && context.existing !== undefined) {
      console.error(`(--yes: ${context.path} exists and would be replaced; a backup is kept.)`);
    }
  }
  return 2;
}

interface _Built {
  text: string;
  config: Config;
  warnings: string[];
  /** Variables the file refers to (without a default) that this shell does not set. */
  unset: string[];
}

/**
 * The file's new text, checked the way relay will load it. Variables the file needs but this shell lacks
 * are stood in for (relay needs them only at start); they are listed so the person can export them.
 */
function _build(context: _Context, setup: ConfigSetup): _Built {
  const text = applySetup(context.existing ?? _NEW_FILE, context.path, setup);
  const unset = new Set<string>();
  // Values only: a reference in a comment or a key is never read.
  visit(parseDocument(text), {
    Scalar(key, node) {
      if (key === "key" || typeof node.value !== "string") return;
      for (const name of _references(node.value)) if (context.env(name) === undefined) unset.add(name);
    },
  });
  const lookup = (name: string) =>
    context.env(name) ?? (unset.has(name) ? `http://unset.invalid/${name}` : undefined);
  const { config, warnings } = parseConfig(text, context.path, lookup);
  return { text, config, warnings, unset: [...unset] };
}

function _nextSteps(context: _Context, built: _Built): string {
  const config = context.source === "flag" ? ` --config ${shellQuote(context.path)}` : "";
  const lines = [
    `1. Start relay:  relay serve${config}`,
    "2. Point Claude Code at it, in the shell you run claude from:",
    `     eval "$(relay env${config})"`,
    `   or put it in Claude Code's settings:  relay env${config} --claude-settings`,
  ];
  if (built.unset.length > 0) {
    lines.splice(1, 0, `   (export ${built.unset.join(", ")} first: the config reads it)`);
  } else {
    lines.push("   which sets (the token is shown only here; it is in the file):");
    lines.push(
      ...formatExports(claudeCodeEnv(built.config), "posix").split("\n").map((line) => `     ${line}`),
    );
  }
  lines.push("3. Run claude.");
  return lines.join("\n");
}

function _findings(context: _Context): string[] {
  const findings = _offeredKinds().flatMap((kind) => kind.found?.(context) ?? []);
  if (context.existing !== undefined) {
    findings.unshift(`${context.path}: it will be edited, not overwritten (a backup is kept)`);
  }
  return findings;
}

function _offeredKinds(): _ProviderKind[] {
  return _KINDS.filter((kind) => (PROVIDER_TYPES as readonly string[]).includes(kind.type));
}

function _kind(type: string): _ProviderKind | undefined {
  return _offeredKinds().find((kind) => kind.type === type);
}

/** What the schema says of one field alone, so flags and answers are refused with relay's own words. */
function _fieldProblem(type: ProviderType, field: _Field, value: string): string | undefined {
  const entry = field === "aws_profile"
    ? { aws: value ? { profile: value } : undefined }
    : { [field]: value || undefined };
  const result = configSchema.safeParse({ providers: [{ name: "check", type, ...entry }] });
  const at = field === "aws_profile" ? "aws" : field;
  return result.error?.issues.find((issue) => issue.path[2] === at)?.message;
}

/** The value the schema fills in for a field left out, e.g. Ollama's local URL. */
function _schemaDefault(type: ProviderType, field: _Field): string | undefined {
  const result = configSchema.safeParse({ providers: [{ name: "check", type }] });
  const provider = result.data?.providers[0] as Record<string, unknown> | undefined;
  const value = provider?.[field];
  return typeof value === "string" ? value : undefined;
}

function _keyProblem(value: string): string | undefined {
  if (value === "") return "a key is needed";
  if (/\s/.test(value)) return "a key holds no spaces";
  return expandString(value, () => "set").problems[0]?.message;
}

function _portProblem(value: string): string | undefined {
  const port = Number(value);
  if (/^\d+$/.test(value) && port >= 1 && port <= 65535) return undefined;
  return "expected a port number from 1 to 65535 (Claude Code needs a fixed one)";
}

function _modelsProblem(value: string): string | undefined {
  const entries = _splitModels(value);
  const bad = entries.find((entry) => !/^[^=\s]+=[^=\s]+$/.test(entry));
  if (bad !== undefined) return `"${bad}" is not name=id`;
  return modelMapProblems(_parseModels(value) ?? {})[0];
}

function _parseModels(value: string): Record<string, string> | undefined {
  const entries = _splitModels(value).map((entry) => entry.split("=") as [string, string]);
  return entries.length === 0 ? undefined : Object.fromEntries(entries);
}

function _splitModels(value: string): string[] {
  return value.split(",").map((entry) => entry.trim()).filter(Boolean);
}

function _formatModels(models: Record<string, string> | undefined): string {
  return Object.entries(models ?? {}).map(([name, id]) => `${name}=${id}`).join(", ");
}

/** Variables referred to without a default: `${NAME}`, not `${NAME:-x}` (which needs nothing set). */
function _references(text: string): string[] {
  return [...text.matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((match) => match[1]);
}

function _describeKey(key: string): string {
  return key.includes("${") ? key : maskSecret(key);
}

/** Literal secrets in either version of the file, masked in the diff shown on screen. */
function _secrets(before: ConfigSetup, after: ConfigSetup): string[] {
  return [before, after].flatMap((
    setup,
  ) => [...setup.tokens ?? [], ...setup.providers.map((p) => p.key ?? "")])
    .filter((secret) => secret.length >= 8 && !secret.includes("${"))
    .sort((a, b) => b.length - a.length);
}

function _redact(text: string, secrets: string[]): string {
  return secrets.reduce((out, secret) => out.replaceAll(secret, maskSecret(secret)), text);
}

function _newToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `rly_${Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("")}`;
}

/** The profiles relay can use: sections of the shared credentials file, where its static keys live. */
function _awsProfiles(env: EnvLookup, home: string): string[] {
  const file = env("AWS_SHARED_CREDENTIALS_FILE") || join(home, ".aws", "credentials");
  try {
    return [...Deno.readTextFileSync(file).matchAll(/^\s*\[\s*([^\]]+?)\s*\]\s*$/gm)].map((match) =>
      match[1]
    );
  } catch {
    return [];
  }
}

async function _readExisting(path: string): Promise<string | undefined> {
  try {
    if (!(await Deno.stat(path)).isFile) {
      throw new ConfigError(path, [{ message: `${path} is not a regular file` }]);
    }
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

function _isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

function _only<T>(items: T[]): T | undefined {
  return items.length === 1 ? items[0] : undefined;
}

function _collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
