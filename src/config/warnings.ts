import { globsMeet, ModelMap } from "../routing/model_map.ts";
import { formatPath } from "./errors.ts";
import { formatDuration } from "./format_units.ts";
import { type Config, DEFAULT_TIMEOUTS, isLoopbackHost, type Timeouts } from "./schema.ts";

/** Below this a timeout is taken for a unit slip (`5` meaning 5 s, not 5 ms) rather than a choice. */
const _SUSPICIOUS_TIMEOUT_MS = 5_000;

const _CONSEQUENCE: Record<keyof Timeouts, string> = {
  connect: "slow upstreams will fail before they send headers",
  first_byte: "long prompts will fail before the first token",
  idle: "streams with long thinking will be cut",
};

/**
 * What in a valid config is almost certainly a mistake: timeouts (global or per provider) too short for
 * real traffic, `server.allowed_hosts` on an address where no Host is checked, and a model a provider's
 * table names that an earlier Claude-only provider takes first ({@linkcode _shadowedModels}).
 *
 * @example
 * ```ts
 * configWarnings(configSchema.parse({ timeouts: { idle: "2s" }, providers }));
 * // ["timeouts.idle is 2s: streams with long thinking will be cut; 5m is the default"]
 * ```
 */
export function configWarnings(config: Config): string[] {
  return [
    ..._timeoutWarnings(["timeouts"], config.timeouts),
    ...config.providers.flatMap((provider, index) =>
      _timeoutWarnings(["providers", index, "timeouts"], provider.timeouts)
    ),
    ..._unusedAllowedHosts(config),
    ..._shadowedModels(config),
    ...config.providers.flatMap(_versionInBaseUrl),
  ];
}

/** Provider types whose `base_url` relay puts Anthropic's paths under, `/v1/messages` and the rest. */
const _ANTHROPIC_PATHS: ReadonlySet<string> = new Set([
  "anthropic",
  "anthropic-compatible",
  "zai",
  "ollama",
  "azure",
]);

/**
 * An Anthropic-format `base_url` ending in `/v1` or `/v1/messages`: relay adds `/v1/messages` itself, so
 * every request goes to `…/v1/v1/messages`, a 404 that says nothing of why (an OpenAI-compatible one's
 * `base_url` does end in its version, which may be what was copied).
 */
function _versionInBaseUrl(provider: Config["providers"][number], index: number): string[] {
  const url = "base_url" in provider ? provider.base_url : undefined;
  const ending = url && /\/v1(\/messages)?\/*$/.exec(new URL(url).pathname)?.[0].replace(/\/+$/, "");
  if (!_ANTHROPIC_PATHS.has(provider.type) || !ending) return [];
  return [
    `${formatPath(["providers", index, "base_url"])} ends in ${ending}, which relay adds itself ` +
    `(${provider.type} requests go to base_url + /v1/messages): leave it out`,
  ];
}

/** Provider types whose upstream serves Claude models only: a name of another model is its 404. */
const _CLAUDE_ONLY: ReadonlySet<string> = new Set(["anthropic", "bedrock", "vertex", "azure"]);

/**
 * Names of other models than Claude's in a provider's `models:` table that requests never bring there:
 * an earlier provider of a Claude-only upstream takes any name (it has no table, or a `"*"` entry), and
 * under `failover` (or `model` without a `model_routes` entry for the name) it comes first, so the
 * request goes to it, which answers 404, and relay does not fail over on a 404. A Claude model's name in a
 * later provider's table is its backup, and is not told of.
 */
function _shadowedModels({ providers, routing }: Config): string[] {
  // As the router reads it: a model's own strategy (exact, then the most specific glob), else the default.
  const strategies = routing.models && new ModelMap(routing.models);
  const ordered = (name: string) => {
    const strategy = strategies?.resolve(name) ?? routing.strategy;
    return strategy === "failover" || (strategy === "model" && routing.model_routes?.[name] === undefined);
  };
  return providers.flatMap((provider, index) =>
    Object.keys(provider.models ?? {}).flatMap((name) => {
      // A name or glob that a Claude model's name may match is that provider's backup; `qwen*` is not.
      if (globsMeet(name.toLowerCase(), "claude*") || !ordered(name)) return [];
      const first = providers.slice(0, index).find((earlier) =>
        _CLAUDE_ONLY.has(earlier.type) && (earlier.models === undefined || "*" in earlier.models)
      );
      if (!first) return [];
      return [
        `${formatPath(["providers", index, "models", name])} is never used: providers[${
          providers.indexOf(first)
        }] (${first.name}, ${first.type}) comes first and takes any model name, and its upstream has no ` +
        `${name}; list ${provider.name} first` +
        // routing.model_routes names models one by one.
        (name.includes("*") ? "" : `, or send ${name} to it in routing.model_routes` +
          (routing.strategy === "model" ? "" : " with routing.strategy: model")),
      ];
    })
  );
}

/** `server.allowed_hosts` serves a loopback relay only: elsewhere client tokens guard it, and any Host is taken. */
function _unusedAllowedHosts({ server }: Config): string[] {
  if (server.allowed_hosts.length === 0 || isLoopbackHost(server.host)) return [];
  return [
    `server.allowed_hosts is unused on ${server.host}: relay checks the Host only on a loopback address ` +
    "(client tokens guard it elsewhere)",
  ];
}

function _timeoutWarnings(path: (string | number)[], timeouts: Partial<Timeouts>): string[] {
  return (Object.keys(_CONSEQUENCE) as (keyof Timeouts)[]).flatMap((field) => {
    const ms = timeouts[field];
    if (ms === undefined || ms >= _SUSPICIOUS_TIMEOUT_MS) return [];
    const fix = `${formatDuration(DEFAULT_TIMEOUTS[field])} is the default`;
    return [`${formatPath([...path, field])} is ${formatDuration(ms)}: ${_CONSEQUENCE[field]}; ${fix}`];
  });
}
