import { basename, dirname, join } from "node:path";
import { ConfigError } from "./errors.ts";
import { errorMessage, fileErrorMessage, withoutOsError } from "../util/error_message.ts";
import { followLinks } from "../util/follow_links.ts";

export interface WriteFileOptions {
  /** The file's permission bits; 0600 by default, as for anything holding keys or tokens. */
  mode?: number;
  /**
   * Keep a copy of the file being replaced as `<path>.bak-<timestamp>` (mode 0600), stamped with this
   * time; see {@linkcode backupPath} for a second backup within the same second.
   */
  backupAt?: Date;
  /** Checked just before the rename: once aborted, nothing is left behind, not even the backup. */
  signal?: AbortSignal;
  /** Where the line saying the file's owner could not be kept goes, once written; stderr by default. */
  warn?: (line: string) => void;
}

/** A file's owner as `Deno.stat` gives it; `null` where the platform has no such notion. */
export type FileOwner = Pick<Deno.FileInfo, "uid" | "gid">;

/** What {@linkcode writeFileAtomic} did besides writing. */
export interface WriteResult {
  /** The backup's path, when there was a file to back up. */
  backup?: string;
  /** Whether the folder had to be created (mode 0700). */
  createdFolder: boolean;
}

/**
 * Replaces a file so that readers see the old content or the new, never half of either: the text goes
 * to a temporary file in the same folder (so the rename cannot cross file systems), created 0600 before
 * a byte is written and given `mode` once written, then renamed over `path`. When `path` is a symlink (a dotfiles
 * manager's), the file it leads to is replaced instead and the link kept; the backup stays beside
 * `path`. A missing folder is created 0700, since it will hold secrets. The new file and the backup
 * keep the replaced file's owner (see {@linkcode ownerToKeep}); when the system refuses that, a warning
 * says so and the write goes on. On any failure or abort the temporary file and the backup are removed
 * and the original is untouched; a failure is thrown as a `ConfigError` (`cannot write <path>: <the
 * system's reason>`), an abort as the signal's reason.
 *
 * @example
 * ```ts
 * const { backup } = await writeFileAtomic("relay.yaml", text, { backupAt: new Date() });
 * ```
 */
export async function writeFileAtomic(
  path: string,
  text: string,
  options: WriteFileOptions = {},
): Promise<WriteResult> {
  const mode = options.mode ?? 0o600;
  const made: string[] = [];
  try {
    const target = await followLinks(path);
    const folder = dirname(target);
    const createdFolder = !(await _exists(folder));
    if (createdFolder) await Deno.mkdir(folder, { recursive: true, mode: 0o700 });
    const original = await _ownerOf(target);
    const backup = options.backupAt ? await _backup(path, options.backupAt, made) : undefined;
    const temp = join(folder, `.${basename(target)}.tmp-${crypto.randomUUID().slice(0, 8)}`);
    // Private from its creation, and given `mode` only once written: a read-only one (0400) could not
    // be written to, and the umask may have narrowed it; the file must end up with exactly what was asked.
    made.push(temp);
    await Deno.writeTextFile(temp, text, { createNew: true, mode: 0o600 });
    // Before the chmod: a chown may clear mode bits.
    const ownerLost = await _keepOwner(path, original, temp, backup);
    await Deno.chmod(temp, mode);
    options.signal?.throwIfAborted();
    await Deno.rename(temp, target);
    if (ownerLost) (options.warn ?? console.error)(ownerLost);
    return { backup, createdFolder };
  } catch (error) {
    for (const leftover of made.reverse()) await Deno.remove(leftover).catch(() => {});
    if (options.signal?.aborted) throw error;
    throw new ConfigError(path, [{ message: `cannot write ${path}: ${fileErrorMessage(error)}` }]);
  }
}

/**
 * The owner to give a file written to replace one owned by `original`, when the new file (owned by
 * `written`, its writer) lacks it: a rename hands the path to whoever wrote, so root editing another
 * user's config (`sudo relay init`) would leave it root's, and relay, run as that user, would refuse it.
 * `undefined` when there is nothing to change: no file was replaced, owners are unknown, or they match.
 *
 * @example
 * ```ts
 * ownerToKeep({ uid: 1000, gid: 1000 }, { uid: 0, gid: 0 }); // { uid: 1000, gid: 1000 }
 * ownerToKeep(undefined, { uid: 0, gid: 0 }); // undefined
 * ```
 */
export function ownerToKeep(
  original: FileOwner | undefined,
  written: FileOwner,
): { uid: number; gid: number } | undefined {
  if (original?.uid == null || original.gid == null) return undefined;
  if (original.uid === written.uid && original.gid === written.gid) return undefined;
  return { uid: original.uid, gid: original.gid };
}

async function _ownerOf(path: string): Promise<FileOwner | undefined> {
  try {
    return await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/**
 * Gives the written file `temp` and its `backup` the replaced file's owner, or says why it could not.
 * Only root may give a file away, so a refusal is expected of anyone else and costs a warning, not the
 * write: the content is what was asked.
 */
async function _keepOwner(
  path: string,
  original: FileOwner | undefined,
  temp: string,
  backup: string | undefined,
): Promise<string | undefined> {
  // Nothing replaced, or an owner the platform does not tell: the written file's own is not asked.
  if (original?.uid == null) return undefined;
  const written = await Deno.stat(temp);
  const owner = ownerToKeep(original, written);
  if (owner === undefined) return undefined;
  try {
    for (const file of backup ? [temp, backup] : [temp]) await Deno.chown(file, owner.uid, owner.gid);
    return undefined;
  } catch (error) {
    return `warning: ${path} was owned by uid ${owner.uid} (gid ${owner.gid}); relay could not keep that ` +
      `(${
        withoutOsError(errorMessage(error))
      }), so it is now owned by uid ${written.uid} (gid ${written.gid})`;
  }
}

/**
 * The backup name for a file replaced at `at`: sortable, and free of characters shells care about.
 * The stamp has whole seconds, so the `nth` backup taken within one second gets `-<nth>` after it.
 *
 * @example
 * ```ts
 * backupPath("relay.yaml", new Date("2025-01-02T03:04:05Z")); // "relay.yaml.bak-20250102T030405Z"
 * backupPath("relay.yaml", new Date("2025-01-02T03:04:05Z"), 2); // "relay.yaml.bak-20250102T030405Z-2"
 * ```
 */
export function backupPath(path: string, at: Date, nth = 1): string {
  const stamp = at.toISOString().replace(/\.\d+Z$/, "Z").replace(/[-:]/g, "");
  return `${path}.bak-${stamp}${nth > 1 ? `-${nth}` : ""}`;
}

async function _backup(path: string, at: Date, made: string[]): Promise<string | undefined> {
  let content: Uint8Array;
  try {
    content = await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  let backup = backupPath(path, at);
  // createNew claims a name atomically, so an earlier backup is never overwritten, even by a racing run.
  for (let nth = 2;; nth++) {
    try {
      await Deno.writeFile(backup, new Uint8Array(), { createNew: true, mode: 0o600 });
      break;
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      backup = backupPath(path, at, nth);
    }
  }
  made.push(backup);
  await Deno.chmod(backup, 0o600);
  await Deno.writeFile(backup, content);
  return backup;
}

async function _exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
