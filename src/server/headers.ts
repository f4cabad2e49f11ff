import { HeaderList, headerPairs } from "../util/headers.ts";

/**
 * Which headers cross relay, in each direction. Everything not named here passes verbatim: Claude Code
 * pairs body fields with `anthropic-beta` values that change with every release, so an allowlist would
 * break it.
 */

/** Connection-scoped headers (RFC 9110 §7.6.1) plus ones that describe the body as relay received it. */
const _HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
  "content-length",
];

/**
 * Never sent upstream: the client's own credentials (the provider key replaces them), browser state,
 * and `accept-encoding`, so Deno's fetch negotiates compression itself and hands relay plain bytes.
 * `origin` makes api.anthropic.com demand a CORS opt-in the client never asked for. `expect:
 * 100-continue` was the client's to ask of relay, whose server has answered it: relay holds the whole
 * body before it sends a byte upstream, so there is nothing left to wait for.
 */
const _CLIENT_ONLY = ["x-api-key", "authorization", "cookie", "origin", "accept-encoding", "expect"];

/**
 * Never sent back: `content-encoding`, because Deno's fetch has already decoded the body, so it (and
 * `content-length`, dropped as hop-by-hop) describes bytes the client will not get; and `set-cookie`,
 * because the client's cookies never travel upstream, so a cookie the upstream sets (Cloudflare's
 * `__cf_bm`) could never reach it again and would only be stored against relay's host.
 */
const _UPSTREAM_ONLY = ["content-encoding", "set-cookie"];

const _NOT_TO_UPSTREAM: ReadonlySet<string> = new Set([..._HOP_BY_HOP, ..._CLIENT_ONLY]);
const _NOT_TO_CLIENT: ReadonlySet<string> = new Set([..._HOP_BY_HOP, ..._UPSTREAM_ONLY]);

/**
 * The headers an upstream receives, before the adapter adds its credential; `beta` joins the client's
 * `anthropic-beta` when it is not there already (relay's stand-in for a mark it took off the model,
 * `contextBeta`), which Bedrock's and Vertex's adapters read their betas from too.
 *
 * @example
 * ```ts
 * headersForUpstream(request.headers, contextBeta(model, upstreamModel));
 * ```
 */
export function headersForUpstream(client: Headers, beta?: string): HeaderList {
  const pairs = headerPairs(client, _droppedNames(client, _NOT_TO_UPSTREAM));
  if (beta !== undefined) _addBeta(pairs, beta);
  return new HeaderList(pairs);
}

/** `beta` added to the `anthropic-beta` of `pairs` (one header: `Headers` joins repeated ones), once. */
function _addBeta(pairs: [string, string][], beta: string): void {
  const at = pairs.findIndex(([name]) => name === "anthropic-beta");
  if (at < 0) {
    pairs.push(["anthropic-beta", beta]);
    return;
  }
  const value = pairs[at][1];
  if (value.split(",").some((given) => given.trim() === beta)) return;
  pairs[at] = ["anthropic-beta", value.trim() === "" ? beta : `${value},${beta}`];
}

/**
 * The answer a client gets: `body` with the upstream's status and headers, less the ones that must not
 * cross. A `Response` copies a `Headers` whole without checking each pair again, so the copy is made
 * whole and the few unwanted names deleted from it: 5 µs for Anthropic's answer headers, where
 * building a filtered `Headers` and then the `Response` took 12 (`bench/headers_bench.ts`).
 *
 * @example
 * ```ts
 * return responseForClient(stream, upstreamResponse);
 * ```
 */
export function responseForClient(body: BodyInit | null, upstream: Response): Response {
  const response = new Response(body, { status: upstream.status, headers: upstream.headers });
  const { headers } = response;
  for (const name of _NOT_TO_CLIENT) headers.delete(name);
  for (const name of _connectionTokens(upstream.headers)) headers.delete(name);
  return response;
}

/** What Deno's fetch decodes, when it is the whole of `content-encoding` (case and spaces aside). */
const _DECODED_BY_FETCH: ReadonlySet<string> = new Set(["gzip", "br", "identity", ""]);

/**
 * An upstream answer's `content-encoding` when its body is still encoded: relay asks for gzip or br
 * only, and Deno's fetch decodes nothing else (deflate, zstd, `gzip, gzip`), so such bytes could be
 * neither read for usage nor passed on without a `content-encoding` that `responseForClient` drops.
 *
 * @example
 * ```ts
 * undecodedEncoding(new Headers({ "content-encoding": "gzip" })); // undefined: fetch decoded it
 * undecodedEncoding(new Headers({ "content-encoding": "deflate" })); // "deflate"
 * ```
 */
export function undecodedEncoding(headers: Headers): string | undefined {
  const value = headers.get("content-encoding");
  return value === null || _DECODED_BY_FETCH.has(value.trim().toLowerCase()) ? undefined : value;
}

/** Headers named in `Connection:` are hop-by-hop too (RFC 9110 §7.6.1). */
function _connectionTokens(headers: Headers): string[] {
  const value = headers.get("connection");
  return value ? value.split(",").map((token) => token.trim().toLowerCase()).filter(Boolean) : [];
}

/** `names`, plus the ones `source` names in `Connection:`. */
function _droppedNames(source: Headers, names: ReadonlySet<string>): ReadonlySet<string> {
  const tokens = _connectionTokens(source);
  return tokens.length === 0 ? names : new Set([...names, ...tokens]);
}
