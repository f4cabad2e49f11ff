import { createHash } from "node:crypto";
import { ConfigError, type ConfigProblem } from "../config/errors.ts";
import type { Config, ProviderConfig } from "../config/schema.ts";
import type { Locator } from "../config/yaml_document.ts";
import { providerTimeouts } from "../config/schema.ts";
import { createProvider, type ProviderEnvironment, systemEnvironment } from "../providers/registry.ts";
import { keyFingerprint } from "../util/fingerprint.ts";
import { maskSecret } from "../util/mask.ts";
import { stableJson } from "../util/stable_json.ts";
import { ModelMap } from "./model_map.ts";
import type { Route, RoutingOptions } from "./router.ts";

/**
 * The routes a config describes, in its order. A provider whose credentials cannot be found is a
 * `ConfigError` naming it, at its entry's line when `locate` can find it in the file, so `relay check` and
 * `relay serve` both stop on it. Each route carries a
 * fingerprint of what configures it (its entry, its effective timeouts, the breaker settings), so a
 * reload keeps the live state of the providers it left alone.
 */
export function routesFromConfig(
  config: Config,
  path = "config",
  environment: ProviderEnvironment = systemEnvironment,
  locate?: Locator,
): Route[] {
  const problems: ConfigProblem[] = [];
  // What the breakers are made with: the last resort is the router's, and changing it resets none.
  const { last_resort: _lastResort, ...breakerState } = config.routing.breaker;
  const routes = config.providers.flatMap((provider, index) => {
    try {
      const timeouts = providerTimeouts(config, provider);
      const keys = provider.keys.map(({ key, name, ...limits }) => ({
        key: { secret: key, label: _keyLabel(key, name), id: keyFingerprint(key) },
        name,
        limits: {
          rpm: limits.rpm,
          tpm: limits.tpm,
          input_tpm: limits.input_tpm,
          output_tpm: limits.output_tpm,
        },
      }));
      const route: Route = {
        provider: createProvider(provider, environment),
        keys: keys.map(({ key }) => key),
        limits: new Map(keys.map(({ key, limits }) => [key, limits])),
        keyNames: new Map(keys.flatMap(({ key, name }) => name === undefined ? [] : [[key, name]])),
        timeouts: { connect: timeouts.connect, firstByte: timeouts.first_byte, idle: timeouts.idle },
        models: new ModelMap(provider.models),
        maxInFlight: provider.max_in_flight,
        prices: provider.prices &&
          new Map(
            Object.entries(provider.prices).map((
              [model, price],
            ) => [model, { inputPerMTok: price.input, outputPerMTok: price.output }]),
          ),
        fingerprint: _fingerprint(provider, timeouts, breakerState),
      };
      return [route];
    } catch (error) {
      problems.push({
        path: `providers[${index}]`,
        ...locate?.(["providers", index]),
        message: `${provider.name}: ${(error as Error).message}`,
      });
      return [];
    }
  });
  if (problems.length > 0) throw new ConfigError(path, problems);
  return routes;
}

/** What logs, events and the ledger show of a key: masked, after the name it was given. */
function _keyLabel(key: string, name: string | undefined): string {
  return name === undefined ? maskSecret(key) : `${name} (${maskSecret(key)})`;
}

function _fingerprint(provider: ProviderConfig, ...context: unknown[]): string {
  return createHash("sha256").update(stableJson([provider, ...context])).digest("base64url");
}

/** `routing.breaker.min_span` when not given, and `window` is over twice as long. */
const _MIN_SPAN_MS = 2_000;

/** How the config's `routing:` section asks the router to spread, retry around and protect upstreams. */
export function routingOptionsFromConfig(config: Config): RoutingOptions {
  const { routing } = config;
  return {
    strategy: routing.strategy,
    modelStrategies: routing.models ? new ModelMap(routing.models) : undefined,
    modelRoutes: routing.model_routes,
    affinity: routing.affinity,
    explorationRate: routing.exploration,
    costThresholdTokens: routing.cost_threshold_tokens,
    breaker: {
      failureThreshold: routing.breaker.failures,
      windowMs: routing.breaker.window,
      cooldownMs: routing.breaker.cooldown,
      maxCooldownMs: routing.breaker.max_cooldown,
      minSpanMs: routing.breaker.min_span ?? Math.min(_MIN_SPAN_MS, routing.breaker.window / 2),
    },
    lastResort: routing.breaker.last_resort,
  };
}
