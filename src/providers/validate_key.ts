import type { UpstreamProviderConfig } from "../config/schema.ts";
import { maskSecret } from "../util/mask.ts";
import { createAnthropicProvider } from "./anthropic.ts";

/** How a key check ended: only `rejected` says the key itself is wrong. */
export type KeyCheckOutcome = "works" | "rejected" | "unreachable" | "unexpected";

/** The outcome of {@linkcode checkKey} and a short reason fit for one line of output. */
export interface KeyCheck {
  outcome: KeyCheckOutcome;
  detail: string;
}

export interface CheckKeyOptions {
  /** Injected for tests; `globalThis.fetch` otherwise. */
  fetch?: typeof fetch;
  /** How long to wait for the answer's headers; 5 s by default. */
  timeoutMs?: number;
  /** The caller giving up (Ctrl-C): rethrown as is, not reported as unreachable. */
  signal?: AbortSignal;
}

/**
 * Tries a key with one cheap real call: `GET /v1/models?limit=1` through the provider's own adapter,
 * so the URL and credential header are exactly what relay will send, and no tokens are spent.
 * 2xx: works; 401/403: rejected; no answer (refused, DNS, timeout): unreachable; anything else:
 * unexpected (the upstream answered, but that says nothing about the key). Never throws for the
 * upstream's sake.
 *
 * @example
 * ```ts
 * const { outcome, detail } = await checkKey(config.providers[0] as UpstreamProviderConfig, key);
 * console.log(`${outcome}: ${detail}`); // "rejected: HTTP 401 (invalid x-api-key)"
 * ```
 */
export async function checkKey(
  provider: Pick<UpstreamProviderConfig, "name" | "type" | "base_url" | "auth_header">,
  key: string,
  options: CheckKeyOptions = {},
): Promise<KeyCheck> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const adapter = createAnthropicProvider({
    name: provider.name,
    type: provider.type,
    baseUrl: provider.base_url,
    authHeader: provider.auth_header,
    fetch: options.fetch,
  });
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
  let response: Response;
  try {
    response = await adapter.send({
      path: "/v1/models",
      search: "?limit=1",
      method: "GET",
      headers: new Headers({ "anthropic-version": "2023-06-01" }),
      body: null,
      model: undefined,
      upstreamModel: undefined,
      stream: false,
      signal,
    }, { secret: key, label: maskSecret(key) });
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason;
    const why = timeout.aborted ? `no answer within ${timeoutMs / 1000} s` : (error as Error).message;
    return { outcome: "unreachable", detail: `${provider.base_url}: ${why}` };
  }
  const reason = await _errorMessage(response);
  const status = `HTTP ${response.status}${reason ? ` (${reason})` : ""}`;
  if (response.ok) return { outcome: "works", detail: status };
  if (response.status === 401 || response.status === 403) return { outcome: "rejected", detail: status };
  return {
    outcome: "unexpected",
    detail: `${status}: the upstream answered, but that says nothing of the key`,
  };
}

// Anthropic's error envelope says why a key was refused ("invalid x-api-key"); worth showing.
async function _errorMessage(response: Response): Promise<string | undefined> {
  if (response.ok) {
    await response.body?.cancel();
    return undefined;
  }
  try {
    const message = (await response.json())?.error?.message;
    return typeof message === "string" ? message.slice(0, 200) : undefined;
  } catch {
    return undefined;
  }
}
