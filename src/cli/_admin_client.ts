import { relayUrl } from "../config/client_url.ts";
import { ConfigError } from "../config/errors.ts";
import { resolveConfig } from "../config/resolve.ts";
import { configSchema } from "../config/schema.ts";
import { readFieldsDespite } from "../config/read_despite.ts";
import { parseJsonObject } from "../util/json.ts";
import { errorMessage } from "../util/error_message.ts";
import { withoutTrailing } from "../util/without_trailing.ts";
import { isHttpUrl } from "../util/http_url.ts";

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

/** How {@linkcode adminRequest} treats a config file that does not load, and what it takes for an answer. */
export interface AdminRequestOptions {
  /**
   * Call relay anyway, with the admin token, host and port read from as much of the file as parses:
   * relay keeps serving its previous config then, which is when its status matters most. Otherwise the
   * file's `ConfigError` is thrown.
   */
  despiteConfigError?: boolean;
  /**
   * Whether a JSON body is the answer the caller expects from relay: anything else (a proxy's error
   * page, another service at `--url`) is an {@linkcode AdminClientError} saying what came back.
   */
  isAnswer: (body: Record<string, unknown>) => boolean;
}

/** relay's answer, and why the config file does not load when it was read despite that. */
export interface AdminAnswer {
  status: number;
  body: Record<string, unknown>;
  /** The config file the call was made from; none on the built-in defaults. */
  file?: string;
  configError?: ConfigError;
}

/**
 * Calls the admin API of the relay the config describes, with its `server.admin.token`, and returns
 * the status and the JSON answer (and, with `despiteConfigError`, why the file does not load). Every way
 * it can fail (the config, no token, relay not running, the token refused, an answer that is not
 * relay's) throws a `ConfigError` or an {@linkcode AdminClientError} saying what to do.
 *
 * @example
 * ```ts
 * const { status, body } = await adminRequest({ config: "relay.yaml" }, "GET", "/status", {
 *   isAnswer: (body) => typeof body.relay_version === "string",
 * });
 * ```
 */
export async function adminRequest(
  options: AdminCommandOptions,
  method: "GET" | "POST",
  path: string,
  { despiteConfigError = false, isAnswer }: AdminRequestOptions,
): Promise<AdminAnswer> {
  if (options.url !== undefined) _checkUrlFlag(options.url);
  const { base, token, where, file, configError } = await _target(options, despiteConfigError);
  const url = `${base}/admin${path}`;
  let response: Response;
  try {
    response = await fetch(url, { method, headers: { authorization: `Bearer ${token}` } });
  } catch (error) {
    const reason = errorMessage(error);
    if (options.url !== undefined) {
      throw new AdminClientError(`relay is not reachable at ${base} (${reason}); is it running?`);
    }
    // The file says where relay would listen if it started now, not where it started.
    throw new AdminClientError(
      `relay is not reachable at ${base} (${reason}), where ${where} says it listens; is it running? ` +
        "server.host and server.port take a restart: if the file changed them since relay started, " +
        "pass --url with the address relay listens on",
    );
  }
  const body = parseJsonObject(await response.text());
  // relay's own refusals come in Anthropic's error envelope.
  const refusal = body?.type === "error" ? body.error as { message?: unknown } | undefined : undefined;
  if (typeof refusal?.message === "string") {
    throw new AdminClientError(
      `relay at ${base} refused: ${refusal.message}` +
        (response.status === 401 ? ` (the token in ${where} is not the one relay runs with)` : ""),
    );
  }
  if (body === undefined || !isAnswer(body)) {
    const type = response.headers.get("content-type") ?? "no content-type";
    throw new AdminClientError(
      `${url} answered ${response.status} ${response.statusText} (${type}), not with relay's admin API: ` +
        "is relay running there, or behind a proxy that cannot reach it?",
    );
  }
  return { status: response.status, body, file, configError };
}

/** Where to call and with what: the relay's URL, the admin token and the file it came from. */
interface _Target {
  base: string;
  token: string;
  where: string;
  file?: string;
  configError?: ConfigError;
}

async function _target(options: AdminCommandOptions, despiteConfigError: boolean): Promise<_Target> {
  let resolved;
  try {
    resolved = await resolveConfig({ flag: options.config, usesProviders: false });
  } catch (error) {
    if (despiteConfigError && error instanceof ConfigError) return await _targetDespite(error, options.url);
    throw error;
  }
  const { config, path: file } = resolved;
  const where = file ?? "the built-in defaults";
  const token = config.server.admin.token;
  if (token === undefined) {
    throw new AdminClientError(`relay's admin API is off: no server.admin.token in ${where}`);
  }
  return { base: _trimmed(options.url ?? relayUrl(config.server)), token, where, file };
}

/**
 * The target read from a file that does not load, each of the three fields on its own. Throws `error`
 * when the file cannot be read at all, and an {@linkcode AdminClientError} with it and what is missing
 * when a field the call needs cannot be read.
 */
async function _targetDespite(error: ConfigError, url: string | undefined): Promise<_Target> {
  const read = await readFieldsDespite(error);
  const server = configSchema.shape.server.unwrap().shape;
  const token = read(["server", "admin", "token"], server.admin.unwrap().shape.token)?.value;
  const host = read(["server", "host"], server.host)?.value;
  const port = read(["server", "port"], server.port)?.value;
  const base = url ?? (host !== undefined && port !== undefined ? relayUrl({ host, port }) : undefined);
  if (token === undefined || base === undefined) {
    const what = token === undefined ? "a server.admin.token" : "server.host and server.port (or pass --url)";
    throw new AdminClientError(
      `${error.message}\nrelay was not asked: ${what} cannot be read from ${error.file} as it is`,
    );
  }
  return { base: _trimmed(base), token, where: error.file, file: error.file, configError: error };
}

/** `--url` is relay's address as a client gives it: `127.0.0.1:8787` would not name one, or another. */
function _checkUrlFlag(url: string): void {
  if (isHttpUrl(url)) return;
  throw new AdminClientError(
    `--url takes relay's address with its scheme, such as http://127.0.0.1:8787, not ${JSON.stringify(url)}`,
  );
}

function _trimmed(url: string): string {
  return withoutTrailing(url, /\//);
}
