import { ConfigError } from "../config/errors.ts";
import type { Config } from "../config/schema.ts";
import { providerTimeouts } from "../config/schema.ts";
import { createProvider, type ProviderEnvironment, systemEnvironment } from "../providers/registry.ts";
import { maskSecret } from "../util/mask.ts";
import { ModelMap } from "./model_map.ts";
import type { Route } from "./router.ts";

/**
 * The routes a config describes, in its order. A provider whose credentials cannot be found is a
 * `ConfigError` naming it, so `relay check` and `relay serve` both stop on it.
 */
export function routesFromConfig(
  config: Config,
  path = "config",
  environment: ProviderEnvironment = systemEnvironment,
): Route[] {
  const problems: { path: string; message: string }[] = [];
  const routes = config.providers.flatMap((provider, index) => {
    try {
      const timeouts = providerTimeouts(config, provider);
      return [{
        provider: createProvider(provider, environment),
        keys: provider.keys.map(({ key }) => ({ secret: key, label: maskSecret(key) })),
        timeouts: { connect: timeouts.connect, firstByte: timeouts.first_byte, idle: timeouts.idle },
        models: new ModelMap(provider.models),
      }];
    } catch (error) {
      problems.push({
        path: `providers[${index}]`,
        message: `${provider.name}: ${(error as Error).message}`,
      });
      return [];
    }
  });
  if (problems.length > 0) throw new ConfigError(path, problems);
  return routes;
}
