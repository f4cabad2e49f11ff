import assert from "node:assert/strict";
import { followLinks, followLinksSync, linkTargetSync, MAX_LINKS } from "../../src/util/follow_links.ts";
import { tempFolder } from "../_helpers/temp_folder.ts";

/** What both forms say of `path`: the file it leads to, or the class of what they threw. */
async function bothFollow(path: string): Promise<string> {
  const said = (thrown: unknown) => thrown instanceof Error ? thrown.name : String(thrown);
  const async = await followLinks(path).catch(said);
  let sync: string;
  try {
    sync = followLinksSync(path);
  } catch (error) {
    sync = said(error);
  }
  assert.equal(sync, async, "the sync and async forms agree");
  return async;
}

/** `links` links in a row in `folder`, `link1` -> `link2` -> ... -> the last -> `end`; the first's path. */
function chain(folder: string, links: number, end: string): string {
  for (let n = links; n >= 1; n--) Deno.symlinkSync(n === links ? end : `link${n + 1}`, `${folder}/link${n}`);
  return `${folder}/link1`;
}

Deno.test("followLinks gives a path that is no link, or where nothing is, as it is", async () => {
  await using folder = await tempFolder();
  await Deno.writeTextFile(`${folder.path}/file`, "");
  assert.equal(await bothFollow(`${folder.path}/file`), `${folder.path}/file`);
  assert.equal(await bothFollow(`${folder.path}/missing`), `${folder.path}/missing`);
  assert.equal(await bothFollow(`${folder.path}/no/such/folder`), `${folder.path}/no/such/folder`);
  assert.equal(await bothFollow("relative/missing"), "relative/missing", "not made absolute");
  assert.equal(
    await bothFollow(`${folder.path}/file/under`),
    "NotADirectory",
    "the system's error, as it comes",
  );
});

Deno.test("followLinks reads a relative link from its own folder, the one it really sits in", async () => {
  await using folder = await tempFolder();
  await Deno.mkdir(`${folder.path}/real/sub`, { recursive: true });
  await Deno.writeTextFile(`${folder.path}/real/target`, "");
  await Deno.symlink("../target", `${folder.path}/real/sub/link`);
  assert.equal(await bothFollow(`${folder.path}/real/sub/link`), `${folder.path}/real/target`);
  // Through a linked folder `..` is the real folder's parent, as the system reads it, not `via`'s.
  await Deno.symlink(`${folder.path}/real/sub`, `${folder.path}/via`);
  assert.equal(await bothFollow(`${folder.path}/via/link`), `${folder.path}/real/target`);
});

Deno.test("followLinks follows a chain to its file, and a dangling one to where its file would be made", async () => {
  await using folder = await tempFolder();
  await Deno.mkdir(`${folder.path}/dotfiles`);
  await Deno.writeTextFile(`${folder.path}/dotfiles/relay.yaml`, "");
  await Deno.symlink("dotfiles/relay.yaml", `${folder.path}/middle`);
  await Deno.symlink(`${folder.path}/middle`, `${folder.path}/relay.yaml`);
  assert.equal(await bothFollow(`${folder.path}/relay.yaml`), `${folder.path}/dotfiles/relay.yaml`);

  await Deno.symlink("data/ledger.db", `${folder.path}/dangling`);
  await Deno.symlink("dangling", `${folder.path}/to-dangling`);
  assert.equal(await bothFollow(`${folder.path}/to-dangling`), `${folder.path}/data/ledger.db`);
});

Deno.test("followLinks follows as many links as the system does, and calls more a loop, as a loop is", async () => {
  await using folder = await tempFolder();
  await Deno.mkdir(`${folder.path}/longest`);
  await Deno.mkdir(`${folder.path}/too-long`);
  const longest = chain(`${folder.path}/longest`, MAX_LINKS, "../end");
  const tooLong = chain(`${folder.path}/too-long`, MAX_LINKS + 1, "../end");
  assert.equal(MAX_LINKS, 40);
  assert.equal(await bothFollow(longest), `${folder.path}/end`);
  assert.equal(await bothFollow(tooLong), "FilesystemLoop");
  // The system draws the line at the same place.
  await Deno.writeTextFile(`${folder.path}/end`, "");
  assert.equal(Deno.statSync(longest).isFile, true);
  assert.throws(() => Deno.statSync(tooLong), Deno.errors.FilesystemLoop);

  await Deno.symlink("b", `${folder.path}/a`);
  await Deno.symlink("a", `${folder.path}/b`);
  await assert.rejects(followLinks(`${folder.path}/a`), {
    name: "FilesystemLoop",
    message: "too many levels of symbolic links",
  });
  await Deno.symlink("self", `${folder.path}/self`);
  assert.equal(await bothFollow(`${folder.path}/self`), "FilesystemLoop");
});

Deno.test("linkTargetSync goes one link on, read from the link's real folder; nowhere from what is no link", async () => {
  await using folder = await tempFolder();
  await Deno.mkdir(`${folder.path}/real/sub`, { recursive: true });
  await Deno.writeTextFile(`${folder.path}/real/file`, "");
  await Deno.symlink("../missing", `${folder.path}/real/sub/dangling`);
  await Deno.symlink("dangling", `${folder.path}/real/sub/chain`);
  await Deno.symlink(`${folder.path}/real/sub`, `${folder.path}/via`);
  assert.equal(linkTargetSync(`${folder.path}/via/dangling`), `${folder.path}/real/missing`);
  assert.equal(
    linkTargetSync(`${folder.path}/via/chain`),
    `${folder.path}/real/sub/dangling`,
    "one link only",
  );
  assert.equal(linkTargetSync(`${folder.path}/real/file`), undefined);
  assert.equal(linkTargetSync(`${folder.path}/real/missing`), undefined);
  assert.throws(() => linkTargetSync(`${folder.path}/real/file/under`), Deno.errors.NotADirectory);
});
