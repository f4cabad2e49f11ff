/**
 * The file `relay init` writes: its new text, checked the way relay will load it, what the diff on
 * screen masks, and the steps that follow.
 */
import { parseDocument, visit } from "yaml";
import { applySetup, type ConfigSetup } from "../../config/edit.ts";
import { parseConfig } from "../../config/load.ts";
import type { Config } from "../../config/schema.ts";
import { relayInvocation } from "../../util/invocation.ts";
import { maskSecret } from "../../util/mask.ts";
import { claudeCodeEnv, formatExports } from "../env.ts";
import { shellQuote } from "../../util/shell_quote.ts";
import type { InitContext } from "./context.ts";

const _NEW_FILE = [
  "# relay's config, written by `relay init` (run it again to change it: comments you add are kept).",
  "# relay.example.yaml documents every field. It holds secrets: keep it private (chmod 600).",
  "",
].join("\n");

// What an unset variable reads as while the file is checked; a URL, so it passes where one is expected.
const _STAND_IN = "http://unset.invalid/";

/** The file's new text and the config relay will load from it. */
export interface Built {
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
export function build(context: InitContext, setup: ConfigSetup): Built {
  return checkedText(applySetup(context.existing ?? _NEW_FILE, context.path, setup), context);
}

/**
 * `text` checked the way relay will load it from `context.path` (variables this shell lacks stood in
 * for); a `ConfigError` at its line and column when relay would refuse it. `relay init` checks the file
 * it found this way before asking anything, so a mistake already in it is named where it is.
 */
export function checkedText(text: string, context: Pick<InitContext, "path" | "env">): Built {
  const unset = new Set<string>();
  // Values only: a reference in a comment or a key is never read.
  visit(parseDocument(text), {
    Scalar(key, node) {
      if (key === "key" || typeof node.value !== "string") return;
      for (const name of references(node.value)) if (context.env(name) === undefined) unset.add(name);
    },
  });
  const lookup = (name: string) => context.env(name) ?? (unset.has(name) ? `${_STAND_IN}${name}` : undefined);
  const { config, warnings } = parseConfig(text, context.path, lookup);
  return { text, config, warnings, unset: [...unset] };
}

/** What to do once the file is written: start relay, point Claude Code at it, run claude. */
export function nextSteps(context: InitContext, built: Built): string {
  const config = context.source === "flag" ? ` --config ${shellQuote(context.path)}` : "";
  const relay = relayInvocation();
  const lines = [
    `1. Start relay:  ${relay} serve${config}`,
    "2. Point Claude Code at it, in the shell you run claude from:",
    `     eval "$(${relay} env${config})"`,
    `   or put it in Claude Code's settings:  ${relay} env${config} --claude-settings`,
  ];
  if (built.unset.length > 0) {
    lines.splice(1, 0, `   (export ${built.unset.join(", ")} first: the config reads it)`);
  }
  // A value worked out from a stand-in would be wrong, but the rest still holds, and a new client token
  // is shown nowhere else.
  const exports = Object.fromEntries(
    Object.entries(claudeCodeEnv(built.config)).filter(([, value]) => !value.includes(_STAND_IN)),
  );
  if (Object.keys(exports).length > 0) {
    const token = exports.ANTHROPIC_AUTH_TOKEN ? " (the token is shown only here; it is in the file)" : "";
    lines.push(`   which sets${token}:`);
    lines.push(...formatExports(exports, "posix").split("\n").map((line) => `     ${line}`));
  }
  lines.push("3. Run claude.");
  return lines.join("\n");
}

/** Variables referred to without a default: `${NAME}`, not `${NAME:-x}` (which needs nothing set). */
export function references(text: string): string[] {
  return [...text.matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((match) => match[1]);
}

/** Literal secrets in either version of the file, masked in the diff shown on screen. */
export function literalSecrets(before: ConfigSetup, after: ConfigSetup): string[] {
  return [before, after].flatMap((
    setup,
  ) => [...setup.tokens ?? [], ...setup.providers.map((p) => p.key ?? "")])
    .filter((secret) => secret.length >= 8 && !secret.includes("${"))
    .sort((a, b) => b.length - a.length);
}

/** `text` with each of `secrets` masked, for the diff shown on screen. */
export function redact(text: string, secrets: string[]): string {
  return secrets.reduce((out, secret) => out.replaceAll(secret, maskSecret(secret)), text);
}
