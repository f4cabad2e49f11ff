/**
 * Whether the usage ledger could be written where a config puts it, told without making anything: for
 * `relay check`, which must not leave a file or folder behind.
 */
import { dirname } from "node:path";
import { fileErrorMessage, withoutOsError } from "../util/error_message.ts";
import { linkTargetSync, MAX_LINKS } from "../util/follow_links.ts";
import { newerSchema } from "./store.ts";

/**
 * Why the database at `path` could not be written, or its folder made: the file must be a regular one
 * relay may write, and the folder (else the nearest one above it that exists, where the rest is made) a
 * folder relay may write. `undefined` when nothing says it could not. Only looked at: nothing is made.
 *
 * @example
 * ```ts
 * whyUnwritable("/etc/passwd/usage.db"); // "/etc/passwd is not a folder"
 * ```
 */
export function whyUnwritable(path: string, links = 0): string | undefined {
  const file = _stat(path);
  if (typeof file === "string") return file;
  if (file?.isDirectory) return `${path} is a folder`;
  if (file && !file.isFile) return `${path} is not a regular file`;
  if (file) {
    // Opened, never written: the kernel's answer, a read-only mount and root's rights included.
    try {
      using opened = Deno.openSync(path, { read: true, write: true });
      const problem = file.size > 0 ? _headerProblem(opened, path) : undefined;
      if (problem !== undefined) return problem;
    } catch (error) {
      return `cannot write ${path}: ${withoutOsError(fileErrorMessage(error))}`;
    }
    return _folderProblem(path);
  }
  // A link to nothing: relay makes the file where it points.
  const target = _linkTarget(path);
  if (target !== undefined && links < MAX_LINKS) return whyUnwritable(target, links + 1);
  return _folderProblem(path);
}

/**
 * What stands in the way of the database at `path` when opening it failed with `error`: a file where a
 * folder must be, which the OS tells as "Not a directory" or, making that folder, "File exists". Said as
 * `relay check` says it; `undefined` for any other error.
 */
export function fileInTheWay(path: string, error: unknown): string | undefined {
  const inTheWay = error instanceof Deno.errors.NotADirectory || error instanceof Deno.errors.AlreadyExists;
  return inTheWay ? whyUnwritable(path) : undefined;
}

/**
 * Where the link at `path` points; `undefined` when `path` is no link, or it cannot be told (the look
 * at its folder then says more).
 */
function _linkTarget(path: string): string | undefined {
  try {
    return linkTargetSync(path);
  } catch {
    return undefined;
  }
}

/** SQLite's files begin with these 16 bytes. */
const _SQLITE_HEADER = "SQLite format 3\0";
/** Where SQLite's header keeps `PRAGMA user_version`, the ledger's schema: 4 bytes, big-endian. */
const _USER_VERSION_AT = 60;

/** Why the header of `file` (at `path`) says relay cannot use it: not SQLite, or a newer relay's ledger. */
function _headerProblem(file: Deno.FsFile, path: string): string | undefined {
  const head = new Uint8Array(_USER_VERSION_AT + 4);
  const read = file.readSync(head) ?? 0;
  if (read < _SQLITE_HEADER.length || new TextDecoder().decode(head.subarray(0, 16)) !== _SQLITE_HEADER) {
    return `${path} is not a SQLite database (the ledger is one)`;
  }
  const newer = read < head.length
    ? undefined
    : newerSchema(new DataView(head.buffer).getUint32(_USER_VERSION_AT));
  return newer === undefined ? undefined : `${path}: ${newer}`;
}

/**
 * Why the folder of the database at `path` could not be written or made: it (else the nearest one above
 * it that exists, where the rest is made) must be a folder relay may write.
 */
function _folderProblem(path: string): string | undefined {
  for (let folder = dirname(path);; folder = dirname(folder)) {
    const info = _stat(folder);
    if (typeof info === "string") return info;
    if (info === undefined && folder !== dirname(folder)) continue;
    if (!info?.isDirectory) return `${folder} is not a folder`;
    // The ledger's own folder is also opened, for its lock; a folder above it is only made a folder in.
    const needs = folder === dirname(path) ? 0o7 : 0o3;
    if (!_closed(info, needs)) return undefined;
    const mode = (info.mode! & 0o777).toString(8).padStart(4, "0");
    return `${folder} is not writable by this user (uid ${Deno.uid()}; its owner is uid ${info.uid}, ` +
      `mode ${mode})`;
  }
}

/**
 * What `stat` says of `path`: its info, `undefined` when nothing is there (a file on the way included,
 * which the walk up then names), or why it cannot be reached.
 */
function _stat(path: string): Deno.FileInfo | string | undefined {
  try {
    return Deno.statSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) return undefined;
    return `cannot reach ${path}: ${withoutOsError(fileErrorMessage(error))}`;
  }
}

/**
 * Whether a folder's mode certainly keeps this user from the `needs` bits (rwx as 0o7). Deno tells no
 * groups, so only a folder neither its group nor others may use is certainly closed to a user who does
 * not own it; root passes every mode check.
 */
function _closed(info: Deno.FileInfo, needs: number): boolean {
  const uid = Deno.uid();
  if (uid === null || uid === 0 || info.mode === null) return false;
  const allows = (shift: number) => ((info.mode! >> shift) & needs) === needs;
  return info.uid === uid ? !allows(6) : !allows(3) && !allows(0);
}
