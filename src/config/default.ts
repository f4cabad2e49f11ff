import { maskSecret } from "../util/mask.ts";
import type { EnvLookup } from "./env_expand.ts";
import { type Config, configSchema, DEFAULT_ANTHROPIC_BASE_URL } from "./schema.ts";

/** How to stop running on defaults, named in every banner that says relay is on them. */
export const CREATE_CONFIG_HINT = "run `relay init` (or write relay.yaml: see relay.example.yaml)";

/** The config relay runs on when no file exists, and the banner saying so. */
export interface DefaultConfig {
  config: Config;
  banner: string;
}

/**
 * The config for when no file exists anywhere: Anthropic with `$ANTHROPIC_API_KEY` when it is set, the
 * built-in mock otherwise, everything else at its default. The banner shows the key masked only.
 *
 * @example
 * ```ts
 * const { config, banner } = defaultConfig((name) => Deno.env.get(name));
 * console.error(banner);
 * ```
 */
export function defaultConfig(env: EnvLookup): DefaultConfig {
  const key = env("ANTHROPIC_API_KEY")?.trim();
  const provider = key
    ? { name: "anthropic", type: "anthropic", keys: [{ key, name: "ANTHROPIC_API_KEY" }] }
    : { name: "mock", type: "mock" };
  const serving = key
    ? `Relaying to Anthropic (${DEFAULT_ANTHROPIC_BASE_URL}) with $ANTHROPIC_API_KEY (${maskSecret(key)}).`
    : "$ANTHROPIC_API_KEY is not set, so relay serves the built-in mock provider: canned answers, no upstream.";
  const banner = [
    "No config file found (--config, $RELAY_CONFIG, ./relay.yaml, ~/.config/relay/relay.yaml).",
    serving,
    `To configure relay, ${CREATE_CONFIG_HINT}.`,
  ].join("\n");
  return { config: configSchema.parse({ providers: [provider] }), banner };
}
