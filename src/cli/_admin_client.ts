import type { ZodType } from "zod";
import { relayUrl } from "../config/client_url.ts";
import { expandEnvInDocument } from "../config/env_expand.ts";
import { ConfigError, formatPath } from "../config/errors.ts";
import { readConfigText } from "../config/load.ts";
import { resolveConfig } from "../config/resolve.ts";
import { configSchema } from "../config/schema.ts";
import { parseYamlDocument } from "../config/yaml_document.ts";

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

/** How {@linkcode adminRequest} treats a config file that does not load. */
export interface AdminRequestOptions {
  /**
   * Call relay anyway, with the admin token, host and port read from as much of the file as parses:
   * relay keeps serving its previous config then, which is when its status matters most. Otherwise the
   * file's `ConfigError` is thrown.
   */
  despiteConfigError?: boolean;
}

/** relay's answer, and why the config file does not load when it was read despite that. */
export interface AdminAnswer {
  status: number;
  body: Record<string, unknown>;
  configError?: ConfigError;
}

/**
 * Calls the admin API of the relay the config describes, with its `server.admin.token`, and returns
 * the status and the JSON answer (and, with `despiteConfigError`, why the file does not load). Every way
 * it can fail (the config, no token, relay not running, the token refused) throws a `ConfigError` or an
 * {@linkcode AdminClientError} saying what to do.
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
  { despiteConfigError = false }: AdminRequestOptions = {},
): Promise<AdminAnswer> {
  const { base, token, where, configError } = await _target(options, despiteConfigError);
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
  return { status: response.status, body, configError };
}

/** Where to call and with what: the relay's URL, the admin token and the file it came from. */
interface _Target {
  base: string;
  token: string;
  where: string;
  configError?: ConfigError;
}

async function _target(options: AdminCommandOptions, despiteConfigError: boolean): Promise<_Target> {
  let resolved;
  try {
    resolved = await resolveConfig({ flag: options.config });
  } catch (error) {
    if (despiteConfigError && error instanceof ConfigError) return await _targetDespite(error, options.url);
    throw error;
  }
  const { config, path: file } = resolved;
  const where = file ?? "the built-in defaults";
  const token = config.server.admin.token;
  if (token === undefined) {
    throw new AdminClientError(`relay's admin API is off: ${where} sets no server.admin.token`);
  }
  return { base: _trimmed(options.url ?? relayUrl(config.server)), token, where };
}

/**
 * The target read from a file that does not load: the YAML parser keeps what it could make sense of,
 * and each of the three fields is expanded and checked as relay would. Throws `error` when the file
 * cannot be read at all, and an {@linkcode AdminClientError} with it and what is missing when a field
 * the call needs cannot be read.
 */
async function _targetDespite(error: ConfigError, url: string | undefined): Promise<_Target> {
  // Read as relay reads it: a file relay would refuse (not private, another user's, not UTF-8) is not
  // read here either, its token and address not ours to use.
  const text = await readConfigText(error.file).catch(() => {
    throw error;
  });
  const { doc, lineCounter } = parseYamlDocument(text);
  const unexpanded = expandEnvInDocument(doc, { text, lineCounter, env: (name) => Deno.env.get(name) })
    .map((problem) => problem.path);
  const read = <T>(path: string[], schema: ZodType<T>): T | undefined => {
    if (unexpanded.includes(formatPath(path))) return undefined;
    const parsed = schema.safeParse(doc.getIn(path));
    return parsed.success ? parsed.data : undefined;
  };
  const server = configSchema.shape.server.unwrap().shape;
  const token = read(["server", "admin", "token"], server.admin.unwrap().shape.token);
  const host = read(["server", "host"], server.host);
  const port = read(["server", "port"], server.port);
  const base = url ?? (host !== undefined && port !== undefined ? relayUrl({ host, port }) : undefined);
  if (token === undefined || base === undefined) {
    const what = token === undefined ? "a server.admin.token" : "server.host and server.port (or pass --url)";
    throw new AdminClientError(
      `${error.message}\nrelay was not asked: ${what} cannot be read from ${error.file} as it is`,
    );
  }
  return { base: _trimmed(base), token, where: error.file, configError: error };
}

function _trimmed(url: string): string {
  return url.replace(/\/+$/, "");
}
