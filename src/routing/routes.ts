import type { Config } from "../config/schema.ts";
import { providerTimeouts } from "../config/schema.ts";
import { createProvider } from "../providers/registry.ts";
import { maskSecret } from "../util/mask.ts";
import type { Route } from "./router.ts";

/** The routes a config describes, in its order. */
export function routesFromConfig(config: Config): Route[] {
  return config.providers.map((provider) => {
    const timeouts = providerTimeouts(config, provider);
    return {
      provider: createProvider(provider),
      keys: provider.keys.map(({ key }) => ({ secret: key, label: maskSecret(key) })),
      timeouts: { connect: timeouts.connect, firstByte: timeouts.first_byte, idle: timeouts.idle },
    };
  });
}
