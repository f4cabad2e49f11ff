/**
 * Claude on Microsoft Foundry (Azure). Foundry serves Anthropic's Messages API unchanged under
 * `https://{resource}.services.ai.azure.com/anthropic`, so this is the Anthropic adapter with Azure's
 * credential: the resource key as `x-api-key`, or an Entra ID bearer token. `model` names the
 * deployment; the Anthropic adapter writes the mapped id into the body.
 */
import { createAnthropicProvider } from "./anthropic.ts";
import type { TokenSource } from "./token_cache.ts";
import type { Provider, ProviderKey, ProviderRequest } from "./types.ts";

export interface AzureProviderOptions {
  name: string;
  /** `https://{resource}.services.ai.azure.com/anthropic`; `/v1/messages` is appended. */
  baseUrl: string;
  /**
   * `x-api-key`: the provider's keys are Foundry resource keys. Otherwise the source of Entra ID
   * tokens, e.g. {@link entraClientCredentialsTokens}.
   */
  auth: "x-api-key" | TokenSource;
  /** Injected for tests; `globalThis.fetch` otherwise. */
  fetch?: typeof fetch;
}

/**
 * A Microsoft Foundry upstream.
 *
 * @example
 * ```ts
 * const provider = createAzureProvider({
 *   name: "foundry", baseUrl: "https://my-resource.services.ai.azure.com/anthropic",
 *   auth: entraClientCredentialsTokens({ tenantId, clientId, clientSecret }),
 * });
 * ```
 */
export function createAzureProvider(options: AzureProviderOptions): Provider {
  const { auth } = options;
  const anthropic = createAnthropicProvider({
    name: options.name,
    type: "azure",
    baseUrl: options.baseUrl,
    authHeader: auth === "x-api-key" ? "x-api-key" : "bearer",
    fetch: options.fetch,
  });
  if (auth === "x-api-key") return anthropic;
  return {
    name: anthropic.name,
    type: anthropic.type,
    async send(request: ProviderRequest): Promise<Response> {
      return anthropic.send(request, await _entraKey(auth));
    },
  };
}

/** The bearer token as the key the Anthropic adapter sends; its label is never a secret. */
async function _entraKey(tokens: TokenSource): Promise<ProviderKey> {
  try {
    return { secret: await tokens.token(), label: "entra-id" };
  } catch (error) {
    throw new Error(`Azure Entra ID auth failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}
