import { ConfigError } from "./errors.ts";
import { denoRefusal, errorMessage, withoutOsError } from "../util/error_message.ts";

/** The part of a file's stat the check reads; `null` where the platform has no such notion. */
export interface FileOwnership {
  mode: number | null;
  uid: number | null;
}

/**
 * Why a config file is unsafe to read, as messages naming the fix; empty when it is safe. A config holds
 * API keys and says where requests go, so any group/other permission bit, or an owner other than the
 * user running relay, is refused. Only mode bits and owner count: running as root can read anything, so
 * trying to read would prove nothing.
 *
 * @example
 * ```ts
 * fileModeProblems("relay.yaml", { mode: 0o100644, uid: 1000 }, 1000);
 * // ["relay.yaml has mode 0644: its group and others can read it, and it holds API keys. Fix: chmod 600 relay.yaml"]
 * ```
 */
export function fileModeProblems(path: string, stat: FileOwnership, currentUid: number | null): string[] {
  const problems: string[] = [];
  if (stat.uid !== null && currentUid !== null && stat.uid !== currentUid) {
    problems.push(
      `${path} is owned by uid ${stat.uid}, not by you (uid ${currentUid}): its owner can change where your ` +
        `keys are sent. Fix: chown ${currentUid} ${_shellQuote(path)}`,
    );
  }
  const shared = (stat.mode ?? 0) & 0o077;
  if (shared !== 0) {
    const octal = (stat.mode! & 0o7777).toString(8).padStart(4, "0");
    const who = [shared & 0o070 && "its group", shared & 0o007 && "others"].filter(Boolean).join(" and ");
    const can = [shared & 0o044 && "read", shared & 0o022 && "change"].filter(Boolean).join(" and ") ||
      "open";
    problems.push(
      `${path} has mode ${octal}: ${who} can ${can} it, and it holds API keys. Fix: chmod 600 ${
        _shellQuote(path)
      }`,
    );
  }
  return problems;
}

/**
 * Refuses an unsafe config file before anything in it is read: anything but a regular file, or a file
 * {@linkcode fileModeProblems} objects to. Throws `ConfigError` naming each problem, or the reason the
 * file could not be looked at; lets `Deno.errors.NotFound` through so the caller can say where the path
 * came from.
 */
export async function checkFileMode(path: string, currentUid: number | null = Deno.uid()): Promise<void> {
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw error;
    throw unreadableFileError(path, error);
  }
  if (!stat.isFile) throw new ConfigError(path, [{ message: `${path} is not a regular file` }]);
  const problems = fileModeProblems(path, stat, currentUid);
  if (problems.length > 0) throw new ConfigError(path, problems.map((message) => ({ message })));
}

/**
 * The refusal for a file that could not be looked at or read, with `error` (what a `Deno` file call
 * threw) put in words. Deno's own message names the system call rather than the problem, and some
 * calls leave the path out of it.
 *
 * @example
 * ```ts
 * unreadableFileError("/etc/passwd/relay.yaml", new Deno.errors.NotADirectory("Not a directory (os error 20)"));
 * // ConfigError: cannot read /etc/passwd/relay.yaml: part of its path is not a directory
 * ```
 */
export function unreadableFileError(path: string, error: unknown): ConfigError {
  return new ConfigError(path, [{ message: `cannot read ${path}: ${_reason(error)}` }]);
}

function _reason(error: unknown): string {
  const refused = denoRefusal(error);
  if (refused !== undefined) return refused;
  if (error instanceof Deno.errors.NotADirectory) return "part of its path is not a directory";
  if (error instanceof Deno.errors.FilesystemLoop) return "its path runs into a symlink loop";
  if (error instanceof Deno.errors.IsADirectory) return "it is a directory";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  // The path is already named.
  const text = withoutOsError(errorMessage(error));
  return text.charAt(0).toLowerCase() + text.slice(1);
}

function _shellQuote(path: string): string {
  return /^[\w./-]+$/.test(path) ? path : `'${path.replaceAll("'", `'\\''`)}'`;
}
