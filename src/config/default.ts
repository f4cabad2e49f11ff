import { relayInvocation } from "../util/invocation.ts";
import { maskSecret } from "../util/mask.ts";
import type { EnvLookup } from "./env_expand.ts";
import { ConfigError } from "./errors.ts";
import { type Config, configSchema, DEFAULT_ANTHROPIC_BASE_URL } from "./schema.ts";

/** The config relay runs on when no file exists, and the banner saying so. */
export interface DefaultConfig {
  config: Config;
  banner: string;
}

export interface DefaultConfigOptions {
  /**
   * Whether the command calls the providers (true by default). One that does not (`relay env`, `relay
   * usage`) is not stopped by a `$ANTHROPIC_API_KEY` relay cannot send: it gets the mock in its place,
   * and the banner says what is wrong with the key.
   */
  usesProviders?: boolean;
  /**
   * The user config file that was looked for (`userConfigFile` of find.ts), named in the banner; left
   * out when there was no home folder to look in.
   */
  userConfig?: string;
}

/**
 * The config for when no file exists anywhere: Anthropic with `$ANTHROPIC_API_KEY` when it is set, the
 * built-in mock otherwise, everything else at its default. The banner shows the key masked only. Throws
 * `ConfigError` for a key that cannot travel in a header, checked as a key in a file is (its value is
 * never shown).
 *
 * @example
 * ```ts
 * const { config, banner } = defaultConfig((name) => Deno.env.get(name));
 * console.error(banner);
 * ```
 */
export function defaultConfig(env: EnvLookup, options: DefaultConfigOptions = {}): DefaultConfig {
  const value = env("ANTHROPIC_API_KEY");
  // A blank value counts as unset; any other is sent as it is, so a stray space or line break is
  // refused rather than trimmed, as `key: ${ANTHROPIC_API_KEY}` in a file would be.
  const key = value?.trim() ? value : undefined;
  if (key === undefined) {
    return _onMock(
      "$ANTHROPIC_API_KEY is not set, so relay serves the built-in mock provider: canned answers, no upstream.",
      options.userConfig,
    );
  }
  const anthropic = { name: "anthropic", type: "anthropic", keys: [{ key, name: "ANTHROPIC_API_KEY" }] };
  const parsed = configSchema.safeParse({ providers: [anthropic] });
  if (parsed.success) {
    return {
      config: parsed.data,
      banner: _banner(
        `Relaying to Anthropic (${DEFAULT_ANTHROPIC_BASE_URL}) with $ANTHROPIC_API_KEY (${maskSecret(key)}).`,
        options.userConfig,
      ),
    };
  }
  const why = parsed.error.issues.map((issue) => issue.message).join("; ");
  if (options.usesProviders !== false) {
    throw new ConfigError("$ANTHROPIC_API_KEY", [{
      message: `$ANTHROPIC_API_KEY (used as no config file was found): ${why}`,
    }]);
  }
  return _onMock(
    `$ANTHROPIC_API_KEY cannot be used, so relay serve would refuse to start: ${why}.`,
    options.userConfig,
  );
}

function _onMock(serving: string, userConfig: string | undefined): DefaultConfig {
  return {
    config: configSchema.parse({ providers: [{ name: "mock", type: "mock" }] }),
    banner: _banner(serving, userConfig),
  };
}

function _banner(serving: string, userConfig: string | undefined): string {
  const searched = userConfig ?? "no user config: neither $XDG_CONFIG_HOME nor $HOME is set";
  return [
    `No config file found (--config, $RELAY_CONFIG, ./relay.yaml, ${searched}).`,
    serving,
    // How to stop running on defaults, named in every banner that says relay is on them.
    `To configure relay, run \`${relayInvocation()} init\` (or write relay.yaml: see relay.example.yaml).`,
  ].join("\n");
}
