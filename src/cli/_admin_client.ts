import { relayUrl } from "../config/client_url.ts";
import { resolveConfig } from "../config/resolve.ts";

/** A refusal `relay status` and `relay reload` report as it is, exiting 1. */
export class AdminClientError extends Error {
  override name = "AdminClientError";
}

/** What the admin commands take on the command line. */
export interface AdminCommandOptions {
  /** `--config PATH`: where the URL and the admin token are read. */
  config?: string;
  /** `--url URL`: the running relay, when it does not listen where the config says (`--port`). */
  url?: string;
}

/**
 * Calls the admin API of the relay the config describes, with its `server.admin.token`, and returns
 * the status and the JSON answer. Every way it can fail (the config, no token, relay not running, the
 * token refused) throws a `ConfigError` or an {@linkcode AdminClientError} saying what to do.
 *
 * @example
 * ```ts
 * const { status, body } = await adminRequest({ config: "relay.yaml" }, "GET", "/status");
 * ```
 */
export async function adminRequest(
  options: AdminCommandOptions,
  method: "GET" | "POST",
  path: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const { config, path: file } = await resolveConfig({ flag: options.config });
  const where = file ?? "the built-in defaults";
  const token = config.server.admin.token;
  if (token === undefined) {
    throw new AdminClientError(`relay's admin API is off: ${where} sets no server.admin.token`);
  }
  const base = (options.url ?? relayUrl(config.server)).replace(/\/+$/, "");
  let response: Response;
  try {
    response = await fetch(`${base}/admin${path}`, { method, headers: { authorization: `Bearer ${token}` } });
  } catch (error) {
    throw new AdminClientError(
      `relay is not reachable at ${base} (${error instanceof Error ? error.message : error}); ` +
        "is it running? (--url when it listens elsewhere)",
    );
  }
  const body = await response.json().catch(() => ({}));
  if (response.status === 401 || (response.status === 404 && body?.error)) {
    throw new AdminClientError(
      `relay at ${base} refused: ${body?.error?.message ?? response.statusText}` +
        (response.status === 401 ? ` (the token in ${where} is not the one relay runs with)` : ""),
    );
  }
  return { status: response.status, body };
}
