import type { ProviderRequest } from "../../src/providers/types.ts";

/**
 * A `POST /v1/messages` ProviderRequest as the core hands it to an adapter, streamed, for the model
 * named in `body`; `init` overrides any field.
 */
export function providerRequest(body: string, init: Partial<ProviderRequest> = {}): ProviderRequest {
  const json = JSON.parse(body);
  const model = json.model;
  return {
    path: "/v1/messages",
    search: "?beta=true",
    method: "POST",
    headers: new Headers({ "content-type": "application/json", "anthropic-version": "2023-06-01" }),
    body: new TextEncoder().encode(body),
    model,
    json,
    upstreamModel: model,
    stream: true,
    signal: new AbortController().signal,
    ...init,
  };
}
