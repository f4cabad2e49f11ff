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
 * real traffic, and `server.allowed_hosts` on an address where no Host is checked.
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
  ];
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
