/**
 * Claude on Microsoft Foundry (Azure). Foundry serves Anthropic's Messages API unchanged under
 * `https://{resource}.services.ai.azure.com/anthropic`, so this is the Anthropic adapter with Azure's
 * credential: the resource key as `x-api-key`, or an Entra ID bearer token. `model` names the
 * deployment; the Anthropic adapter writes the mapped id into the body.
 */
import { createAnthropicProvider } from "./anthropic.ts";
import { sendWithToken, type TokenSource } from "./token_cache.ts";
import type { Provider, ProviderRequest } from "./types.ts";

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
 * A Microsoft Foundry upstream. With Entra ID, a 401 drops the token and the request is sent once more
 * with a fresh one.
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
    send(request: ProviderRequest): Promise<Response> {
      // The label is never a secret: it names the credential in logs.
      return sendWithToken(
        auth,
        "Azure Entra ID auth",
        request,
        (token) => anthropic.send(request, { secret: token, label: "entra-id" }),
      );
    },
  };
}
