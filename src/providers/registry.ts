import type { ProviderConfig } from "../config/schema.ts";
import { createAnthropicProvider } from "./anthropic.ts";
import { createMockProvider } from "./mock.ts";
import type { Provider } from "./types.ts";

/** Builds the adapter a provider's `type` names. New upstream types register here. */
export function createProvider(config: ProviderConfig): Provider {
  switch (config.type) {
    case "mock":
      return createMockProvider(config.name, config.mock);
    case "anthropic":
    case "anthropic-compatible":
      return createAnthropicProvider({
        name: config.name,
        type: config.type,
        baseUrl: config.base_url,
        authHeader: config.auth_header,
      });
  }
}
