import assert from "node:assert/strict";
import { whyUnwritable } from "../../src/ledger/unwritable.ts";
import { tempFolder } from "../_helpers/temp_folder.ts";

Deno.test("whyUnwritable follows a chain of links to nothing as far as the system does, to where the file would be made", async () => {
  await using folder = await tempFolder();
  await Deno.writeTextFile(`${folder.path}/data`, "a file where the ledger's folder should be");
  const links = 40;
  for (let n = links; n >= 1; n--) {
    await Deno.symlink(n === links ? "data/usage.db" : `link${n + 1}`, `${folder.path}/link${n}`);
  }
  assert.equal(whyUnwritable(`${folder.path}/link1`), `${folder.path}/data is not a folder`);
  await Deno.remove(`${folder.path}/data`);
  assert.equal(whyUnwritable(`${folder.path}/link1`), undefined, "a folder that can be made");
});

Deno.test("whyUnwritable reads a relative link in a linked folder from the folder it really sits in", async () => {
  await using folder = await tempFolder();
  await Deno.mkdir(`${folder.path}/real/sub`, { recursive: true });
  await Deno.writeTextFile(`${folder.path}/real/data`, "a file where the ledger's folder should be");
  await Deno.symlink(`${folder.path}/real/sub`, `${folder.path}/via`);
  await Deno.symlink("../data/usage.db", `${folder.path}/real/sub/usage.db`);
  assert.equal(whyUnwritable(`${folder.path}/via/usage.db`), `${folder.path}/real/data is not a folder`);
});
