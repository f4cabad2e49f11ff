import assert from "node:assert/strict";
import { ConfigError } from "../../src/config/errors.ts";
import { parseConfig } from "../../src/config/load.ts";
import { type Config, configSchema, type ProviderConfig } from "../../src/config/schema.ts";

/** The schema's issues for `input`, as `path: message` lines; fails when it is not refused. */
export function issuesOf(input: unknown): string[] {
  const result = configSchema.safeParse(input);
  assert.equal(result.success, false, "expected the config to be refused");
  return result.error!.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
}

/**
 * For `assert.throws` and `assert.rejects`: the error is a `ConfigError` whose message is `message`
 * (a string) or matches it (a pattern), and, given `file`, names that file.
 */
export function configErrorWith(message: string | RegExp, file?: string): (error: unknown) => true {
  return (error) => {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    if (typeof message === "string") assert.equal(error.message, message);
    else assert.match(error.message, message);
    if (file !== undefined) assert.equal(error.file, file);
    return true;
  };
}

/** Where `relay init` writes when it is told nowhere else and HOME is `home`. */
export function userConfigIn(home: string): string {
  return `${home}/.config/relay/relay.yaml`;
}

/** The config file at `path` as relay reads it, with `env` standing for the shell relay starts in. */
export async function readConfigFile(path: string, env: Record<string, string> = {}): Promise<Config> {
  return parseConfig(await Deno.readTextFile(path), path, (name) => env[name]).config;
}

/** The first provider of the config file at `path`, as relay reads it; fails unless it is a `type` one. */
export async function firstProvider<T extends ProviderConfig["type"]>(
  path: string,
  type: T,
  env: Record<string, string> = {},
): Promise<Extract<ProviderConfig, { type: T }>> {
  const [provider] = (await readConfigFile(path, env)).providers;
  assert.equal(provider?.type, type);
  return provider as Extract<ProviderConfig, { type: T }>;
}
