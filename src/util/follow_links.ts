/**
 * Where symbolic links lead, found without making anything: for writers that replace or create the file
 * a link (a dotfiles manager's) points at and keep the link, and for checks that look where they would.
 */
import { dirname, resolve } from "node:path";

/** As many links as Linux follows for one path before giving up (ELOOP); no more are followed here. */
export const MAX_LINKS = 40;

/**
 * The file `path` leads to: itself, or where its symlinks (one, a chain of them, or one to a file not
 * made yet) point, each read as {@linkcode linkTargetSync} reads it. The walk ends at the first path
 * that is not a link, or where nothing is: where the file is, or would be made. Past
 * {@linkcode MAX_LINKS} links it throws `Deno.errors.FilesystemLoop`, as the system does for a loop; any
 * other error looking at a link is thrown as it comes (a file where a folder should be among them).
 *
 * @example
 * ```ts
 * // config/relay.yaml -> ../dotfiles/relay.yaml
 * await followLinks("/home/me/config/relay.yaml"); // "/home/me/dotfiles/relay.yaml"
 * await followLinks("plain.yaml"); // "plain.yaml"
 * ```
 */
export async function followLinks(path: string): Promise<string> {
  for (let links = 0;; links++) {
    const target = await _linkTarget(path);
    if (target === undefined) return path;
    if (links === MAX_LINKS) throw _loop();
    path = target;
  }
}

/** {@linkcode followLinks}, without leaving relay's thread: for callers that cannot wait. */
export function followLinksSync(path: string): string {
  for (let links = 0;; links++) {
    const target = linkTargetSync(path);
    if (target === undefined) return path;
    if (links === MAX_LINKS) throw _loop();
    path = target;
  }
}

/**
 * Where the link at `path` points, one link on; `undefined` when `path` is no link, or nothing is there.
 * A relative link is read from the folder the link really sits in, as the system reads it, not from the
 * path's spelling of that folder (`..` of a linked folder is its real parent).
 *
 * @example
 * ```ts
 * // /home/me/config/relay.yaml -> ../dotfiles/relay.yaml
 * linkTargetSync("/home/me/config/relay.yaml"); // "/home/me/dotfiles/relay.yaml"
 * linkTargetSync("/home/me/dotfiles/relay.yaml"); // undefined
 * ```
 */
export function linkTargetSync(path: string): string | undefined {
  let info: Deno.FileInfo;
  try {
    info = Deno.lstatSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  if (!info.isSymlink) return undefined;
  return resolve(Deno.realPathSync(dirname(path)), Deno.readLinkSync(path));
}

async function _linkTarget(path: string): Promise<string | undefined> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  if (!info.isSymlink) return undefined;
  return resolve(await Deno.realPath(dirname(path)), await Deno.readLink(path));
}

function _loop(): Deno.errors.FilesystemLoop {
  // Whoever catches it names the path given, which is the one the person knows.
  return new Deno.errors.FilesystemLoop("too many levels of symbolic links");
}
