import assert from "node:assert/strict";
import { watchConfigFile } from "../../src/config/watch.ts";

/** A callback that counts its calls, and a promise of its next one. */
function calls() {
  let count = 0;
  let next = Promise.withResolvers<void>();
  return {
    callback: () => {
      count++;
      next.resolve();
      next = Promise.withResolvers<void>();
    },
    next: () => next.promise,
    get count() {
      return count;
    },
  };
}

Deno.test("watchConfigFile sees a rename-save, then a later write, each burst of events once", async () => {
  const folder = await Deno.makeTempDir();
  const path = `${folder}/relay.yaml`;
  await Deno.writeTextFile(path, "one\n");
  const changes = calls();
  const watcher = watchConfigFile(path, changes.callback, { debounceMs: 50 });
  try {
    await Deno.writeTextFile(`${folder}/.relay.yaml.tmp`, "two\n");
    const renamed = changes.next();
    await Deno.rename(`${folder}/.relay.yaml.tmp`, path);
    await renamed;
    const written = changes.next();
    await Deno.writeTextFile(path, "three\n");
    await written;
    assert.equal(changes.count, 2, "each save's burst of events debounced into one call");
  } finally {
    watcher.close();
  }
});
