/**
 * How flags stand in for questions: per-provider flags sorted to their providers, each question
 * answered by its flag, the person or a default, and the refusal that lists what a run without a
 * terminal still needs.
 */
import type { ProviderSetup } from "../../config/edit.ts";
import type { Prompter } from "../_prompts.ts";
import type { InitContext, InitOptions } from "./context.ts";
import { type Field, kindOf } from "./providers.ts";

/** The flag (and its commander option) that answers each per-provider field. */
export const FIELD_FLAGS: Record<Field, { flag: string; option: keyof InitOptions }> = {
  base_url: { flag: "--base-url", option: "baseUrl" },
  region: { flag: "--region", option: "region" },
  project: { flag: "--project", option: "project" },
  credentials_file: { flag: "--credentials-file", option: "credentialsFile" },
  aws_profile: { flag: "--aws-profile", option: "awsProfile" },
};

/** Per-provider flag values, by provider name. */
export interface ScopedFlags {
  fields: Record<Field, Map<string, string>>;
  key: Map<string, string>;
  models: Map<string, string[]>;
}

/** Which providers a per-provider flag can be for, and which of those ask for it at a terminal. */
interface _Takers {
  accepts: (provider: ProviderSetup) => boolean;
  asks: (provider: ProviderSetup) => boolean;
}

/** Per-provider flags (`[provider:]value`) sorted to the providers they are for. */
export function scopeFlags(
  context: InitContext,
  options: InitOptions,
  providers: ProviderSetup[],
): ScopedFlags {
  const kind = (p: ProviderSetup) => kindOf(p.type);
  const single = (flag: string, values: string[], takers: _Takers) => {
    const out = new Map<string, string>();
    for (const [name, list] of _scope(context, flag, values, providers, takers)) {
      if (list.length > 1) context.invalid.push(`${flag}: given ${list.length} times for ${name}`);
      out.set(name, list[0]);
    }
    return out;
  };
  const question = (p: ProviderSetup, field: Field) => kind(p)?.fields.find((q) => q.field === field);
  const fields = Object.fromEntries(
    (Object.keys(FIELD_FLAGS) as Field[]).map((field) => {
      const { flag, option } = FIELD_FLAGS[field];
      return [
        field,
        single(flag, (options[option] ?? []) as string[], {
          accepts: (p) => question(p, field) !== undefined,
          asks: (p) => Boolean(question(p, field)) && !question(p, field)?.flagOnly,
        }),
      ];
    }),
  ) as Record<Field, Map<string, string>>;
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
  context: InitContext,
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
export async function answerQuestion<T>(
  context: InitContext,
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

/** Prints the flags that were missing or could not be used, and returns the exit code for it (2). */
export function refuseFlags(context: InitContext): number {
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

function _only<T>(items: T[]): T | undefined {
  return items.length === 1 ? items[0] : undefined;
}
