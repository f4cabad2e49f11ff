import { headerPairs } from "../util/headers.ts";
import { editTopLevelJson } from "./json_edit.ts";
import type { Provider, ProviderKey, ProviderRequest } from "./types.ts";

export interface AnthropicProviderOptions {
  name: string;
  /** `anthropic` or `anthropic-compatible`: the same wire format, so one adapter serves both. */
  type: string;
  /** Origin plus any path prefix the upstream mounts the API under, e.g. `https://api.z.ai/api/anthropic`. */
  baseUrl: string;
  /** How the key travels: Anthropic takes `x-api-key`; many compatible gateways want a bearer token. */
  authHeader: "x-api-key" | "bearer";
  /** Injected for tests; `globalThis.fetch` otherwise. */
  fetch?: typeof fetch;
}

/**
 * An Anthropic-format upstream. The body is forwarded as the client's own bytes and the response is
 * returned untouched, so thinking signatures and fields relay does not know survive the hop.
 *
 * @example
 * ```ts
 * const provider = createAnthropicProvider({
 *   name: "anthropic", type: "anthropic", baseUrl: "https://api.anthropic.com", authHeader: "x-api-key",
 * });
 * ```
 */
export function createAnthropicProvider(options: AnthropicProviderOptions): Provider {
  const base = options.baseUrl.replace(/\/+$/, "");
  const doFetch = options.fetch ?? fetch;
  return {
    name: options.name,
    type: options.type,
    send(request: ProviderRequest, key: ProviderKey | undefined): Promise<Response> {
      const headers = headerPairs(request.headers, _CREDENTIALS);
      if (key) headers.push(_credential(options.authHeader, key.secret));
      return doFetch(`${base}${request.path}${request.search}`, {
        method: request.method,
        headers,
        body: _anthropicBody(request),
        signal: request.signal,
        redirect: "manual",
      });
    },
  };
}

/**
 * The body an Anthropic-format upstream gets: the client's own bytes, with only `model` rewritten when
 * the provider's `models:` table maps it to another id.
 */
function _anthropicBody(request: ProviderRequest): Uint8Array<ArrayBuffer> | null {
  const { body, model, upstreamModel } = request;
  if (!body || upstreamModel === undefined || upstreamModel === model) return body;
  return editTopLevelJson(body, { set: { model: upstreamModel } });
}

/** Where either style of credential goes; a key replaces whatever the request had there. */
const _CREDENTIALS: ReadonlySet<string> = new Set(["x-api-key", "authorization"]);

function _credential(style: "x-api-key" | "bearer", secret: string): [string, string] {
  return style === "bearer" ? ["authorization", `Bearer ${secret}`] : ["x-api-key", secret];
}
