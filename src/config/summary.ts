import { maskSecret } from "../util/mask.ts";
import { formatByteSize, formatDuration } from "./format_units.ts";
import {
  type Config,
  isLoopbackHost,
  maxBodyMemory,
  type ProviderConfig,
  providerTimeouts,
  type Timeouts,
} from "./schema.ts";

/**
 * What `relay check` prints: where relay listens, who may call it, and each provider with its upstream,
 * keys and effective timeouts. Tokens and keys appear only through `maskSecret`, so the output can be
 * pasted into an issue.
 *
 * @example
 * ```ts
 * console.log(summarizeConfig(config, "relay.yaml"));
 * // config: relay.yaml
 * // listen: 127.0.0.1:8787
 * // ...
 * ```
 */
export function summarizeConfig(config: Config, path: string | undefined): string {
  const { server, log } = config;
  const host = server.host.includes(":") && !server.host.startsWith("[") ? `[${server.host}]` : server.host;
  const tokens = server.auth.tokens;
  return [
    `config: ${path ?? "none (built-in defaults)"}`,
    `listen: ${host}:${server.port}`,
    // On loopback relay answers only these names (host_guard.ts); elsewhere the list is unused.
    ...(server.allowed_hosts.length > 0 && isLoopbackHost(server.host)
      ? [`hosts: loopback names, ${server.allowed_hosts.join(", ")}`]
      : []),
    `auth: ${
      tokens.length === 0 ? "none (loopback only)" : `${_count(tokens.length, "token")} (${_masked(tokens)})`
    }`,
    `admin: ${
      server.admin.token === undefined
        ? "off (set server.admin.token for relay status, relay reload and /admin/)"
        : `on (${maskSecret(server.admin.token)})`
    }`,
    `max body size: ${formatByteSize(server.max_body_size)}, ${
      formatByteSize(maxBodyMemory(server))
    } of bodies at once`,
    `shutdown grace: ${formatDuration(server.shutdown_grace)}`,
    `log: level ${log.level}, bodies ${log.bodies ? "logged" : "not logged"}`,
    `timeouts: ${_timeouts(config.timeouts)}`,
    `routing: ${config.routing.strategy}, up to ${config.routing.max_attempts} attempts, ` +
    `affinity ${config.routing.affinity ? "on" : "off"}, max ${server.max_concurrent} at once ` +
    `(queue ${server.max_queue})`,
    `providers (${config.providers.length}):`,
    ...config.providers.flatMap((provider) => _provider(config, provider)),
  ].join("\n");
}

function _provider(config: Config, provider: ProviderConfig): string[] {
  const upstream = _upstream(provider);
  const models = provider.models
    ? Object.entries(provider.models).map(([name, id]) => (name === id ? name : `${name} -> ${id}`)).join(
      ", ",
    )
    : "any, under its own name";
  const keys = provider.keys.map(({ key, name }) => (name ? `${name} ${maskSecret(key)}` : maskSecret(key)));
  const overridden = Object.keys(provider.timeouts);
  const own = overridden.length > 0 ? ` (set here: ${overridden.join(", ")})` : "";
  return [
    `  ${provider.name}: ${upstream}`,
    `    keys: ${keys.length > 0 ? keys.join(", ") : "none"}`,
    `    models: ${models}`,
    `    timeouts: ${_timeouts(providerTimeouts(config, provider))}${own}`,
  ];
}

function _upstream(provider: ProviderConfig): string {
  switch (provider.type) {
    case "mock":
      return `mock, no upstream (events ${provider.mock.events}, ttfb ${
        formatDuration(provider.mock.ttfb)
      }, ` +
        `chunk_delay ${formatDuration(provider.mock.chunk_delay)}, fault ${provider.mock.fault})`;
    case "bedrock":
      return `bedrock ${provider.base_url ?? `region ${provider.region}`}, ` +
        (provider.keys.length > 0 ? "Bedrock API keys" : `AWS credentials${_awsSource(provider.aws)}`);
    case "vertex":
      return `vertex project ${provider.project}, region ${provider.region}` +
        (provider.base_url ? ` at ${provider.base_url}` : "") + ", credentials " +
        (provider.credentials_file ?? "from $GOOGLE_APPLICATION_CREDENTIALS") +
        (provider.token_url ? ` (tokens from ${provider.token_url})` : "");
    case "azure":
      return `azure ${provider.base_url}, ` +
        (provider.entra
          ? `Entra ID app ${provider.entra.client_id} (secret ${maskSecret(provider.entra.client_secret)})`
          : "keys as x-api-key");
    default:
      return `${provider.type} ${provider.base_url}, ` +
        (provider.keys.length > 0 ? `key sent as ${provider.auth_header}` : "no key sent");
  }
}

function _awsSource(aws: { access_key_id?: string; profile?: string } | undefined): string {
  if (aws?.access_key_id) return ` (${maskSecret(aws.access_key_id)})`;
  if (aws?.profile) return ` (profile ${aws.profile})`;
  return " (from the environment or ~/.aws/credentials)";
}

function _timeouts(timeouts: Timeouts): string {
  return `connect ${formatDuration(timeouts.connect)}, first_byte ${formatDuration(timeouts.first_byte)}, ` +
    `idle ${formatDuration(timeouts.idle)}`;
}

function _masked(secrets: string[]): string {
  return secrets.map(maskSecret).join(", ");
}

function _count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}
