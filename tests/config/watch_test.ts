import assert from "node:assert/strict";
import { watchConfigFile, type WatchOptions } from "../../src/config/watch.ts";
import type { Timers } from "../../src/util/timers.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";

/**
 * `watchConfigFile` on `path` on a fake clock, counting changes, once it has first looked at the file.
 * `look` moves the clock to the next look and resolves with the changes counted once that look is done
 * (the watcher arms its next one).
 */
async function polled(path: string, stat?: WatchOptions["stat"], readFile?: WatchOptions["readFile"]) {
  const clock = new FakeClock();
  let armed = Promise.withResolvers<void>();
  const timers: Timers = {
    setTimeout(callback, ms) {
      const handle = clock.setTimeout(callback, ms);
      armed.resolve();
      return handle;
    },
    clearTimeout: (handle) => clock.clearTimeout(handle),
  };
  const counted = { changes: 0 };
  const watcher = watchConfigFile(path, () => counted.changes++, { timers, stat, readFile });
  await armed.promise;
  return {
    clock,
    watcher,
    get changes() {
      return counted.changes;
    },
    [Symbol.dispose]: () => watcher.close(),
    async look(): Promise<number> {
      armed = Promise.withResolvers<void>();
      clock.advance(1_000);
      await armed.promise;
      return counted.changes;
    },
  };
}

Deno.test("watchConfigFile looks every second: it sees a rename-save, then a later write to the new file", async () => {
  const folder = await Deno.makeTempDir();
  const path = `${folder}/relay.yaml`;
  await Deno.writeTextFile(path, "one\n");
  using watch = await polled(path);
  assert.deepEqual(watch.clock.armed, [1_000]);
  assert.equal(await watch.look(), 0, "nothing changed");

  await Deno.writeTextFile(`${folder}/.relay.yaml.tmp`, "two\n");
  await Deno.rename(`${folder}/.relay.yaml.tmp`, path);
  assert.equal(await watch.look(), 1);

  await Deno.writeTextFile(path, "three\n");
  assert.equal(await watch.look(), 2);
  assert.equal(await watch.look(), 2);
});

Deno.test("watchConfigFile takes saves between two looks as one change", async () => {
  const folder = await Deno.makeTempDir();
  const path = `${folder}/relay.yaml`;
  await Deno.writeTextFile(path, "one\n");
  using watch = await polled(path);
  await Deno.writeTextFile(path, "two, longer\n");
  await Deno.writeTextFile(path, "three, longer still\n");
  assert.equal(await watch.look(), 1);
});

Deno.test("watchConfigFile sees the mode changed, and the file removed and back", async () => {
  const folder = await Deno.makeTempDir();
  const path = `${folder}/relay.yaml`;
  await Deno.writeTextFile(path, "one\n", { mode: 0o600 });
  using watch = await polled(path);
  await Deno.chmod(path, 0o644);
  assert.equal(await watch.look(), 1);
  await Deno.remove(path);
  assert.equal(await watch.look(), 2);
  assert.equal(await watch.look(), 2, "gone is one state");
  await Deno.writeTextFile(path, "one\n");
  assert.equal(await watch.look(), 3);
});

Deno.test("watchConfigFile through a link to another folder sees the target edited", async () => {
  const folder = await Deno.makeTempDir();
  await Deno.mkdir(`${folder}/real`);
  await Deno.mkdir(`${folder}/conf`);
  await Deno.writeTextFile(`${folder}/real/prod.yaml`, "one\n");
  await Deno.symlink(`${folder}/real/prod.yaml`, `${folder}/conf/relay.yaml`);
  using watch = await polled(`${folder}/conf/relay.yaml`);
  await Deno.writeTextFile(`${folder}/real/prod.yaml`, "two, longer\n");
  assert.equal(await watch.look(), 1);
});

Deno.test("watchConfigFile follows a ConfigMap's ..data link when it is swapped, and the new target after", async () => {
  const folder = await Deno.makeTempDir();
  await Deno.mkdir(`${folder}/..v1`);
  await Deno.writeTextFile(`${folder}/..v1/relay.yaml`, "one\n");
  await Deno.symlink("..v1", `${folder}/..data`);
  await Deno.symlink("..data/relay.yaml", `${folder}/relay.yaml`);
  using watch = await polled(`${folder}/relay.yaml`);

  // As the kubelet updates it: a new folder, a new link to it, renamed over ..data at once.
  await Deno.mkdir(`${folder}/..v2`);
  await Deno.writeTextFile(`${folder}/..v2/relay.yaml`, "one\n");
  await Deno.symlink("..v2", `${folder}/..tmp`);
  await Deno.rename(`${folder}/..tmp`, `${folder}/..data`);
  await Deno.remove(`${folder}/..v1`, { recursive: true });
  assert.equal(await watch.look(), 1, "the same text in another file");

  await Deno.writeTextFile(`${folder}/..v2/relay.yaml`, "three\n");
  assert.equal(await watch.look(), 2);
});

Deno.test("watchConfigFile sees its folder, or one further up, replaced, then the new file edited", async () => {
  const folder = await Deno.makeTempDir();
  await Deno.mkdir(`${folder}/up/conf`, { recursive: true });
  await Deno.writeTextFile(`${folder}/up/conf/relay.yaml`, "one\n");
  using watch = await polled(`${folder}/up/conf/relay.yaml`);

  // As a deploy tool swaps it: the new folder renamed in where the old one was.
  await Deno.mkdir(`${folder}/up/conf.new`);
  await Deno.writeTextFile(`${folder}/up/conf.new/relay.yaml`, "one\n");
  await Deno.rename(`${folder}/up/conf`, `${folder}/up/conf.old`);
  await Deno.rename(`${folder}/up/conf.new`, `${folder}/up/conf`);
  assert.equal(await watch.look(), 1);

  await Deno.mkdir(`${folder}/up.new/conf`, { recursive: true });
  await Deno.writeTextFile(`${folder}/up.new/conf/relay.yaml`, "one\n");
  await Deno.rename(`${folder}/up`, `${folder}/up.old`);
  await Deno.rename(`${folder}/up.new`, `${folder}/up`);
  assert.equal(await watch.look(), 2);

  await Deno.writeTextFile(`${folder}/up/conf/relay.yaml`, "three\n");
  assert.equal(await watch.look(), 3);
});

Deno.test("watchConfigFile closed during a look reports nothing and looks no more", async () => {
  const folder = await Deno.makeTempDir();
  const path = `${folder}/relay.yaml`;
  await Deno.writeTextFile(path, "one\n");
  const answer = Promise.withResolvers<Deno.FileInfo>();
  let looks = 0;
  const watch = await polled(path, () => {
    looks++;
    return answer.promise;
  });
  watch.clock.advance(1_000);
  assert.equal(looks, 1, "a look is under way");
  watch.watcher.close();
  await Deno.writeTextFile(path, "two, longer\n");
  answer.resolve(await Deno.stat(path));
  // A macrotask turn lets the look finish first.
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual([watch.changes, watch.clock.armed, looks], [0, [], 1]);
});

Deno.test("watchConfigFile takes the file as it is at the start: a change right after counts", async () => {
  const folder = await Deno.makeTempDir();
  const path = `${folder}/relay.yaml`;
  await Deno.writeTextFile(path, "one\n");
  const answer = Promise.withResolvers<Deno.FileInfo>();
  using watch = await polled(path, () => answer.promise);
  await Deno.writeTextFile(path, "two, longer\n");
  answer.resolve(await Deno.stat(path));
  assert.equal(await watch.look(), 1);
});

Deno.test("watchConfigFile sees a rewrite that keeps the size and the modification time", async () => {
  const folder = await Deno.makeTempDir();
  const path = `${folder}/relay.yaml`;
  await Deno.writeTextFile(path, "alpha\n");
  const { mtime } = await Deno.stat(path);
  using watch = await polled(path);
  await Deno.writeTextFile(path, "bravo\n");
  await Deno.utime(path, mtime!, mtime!);
  assert.equal(await watch.look(), 1);
});

Deno.test("watchConfigFile rebased after a reload from elsewhere reports that change no more, and the next", async () => {
  const folder = await Deno.makeTempDir();
  const path = `${folder}/relay.yaml`;
  await Deno.writeTextFile(path, "one\n");
  using watch = await polled(path);
  await Deno.writeTextFile(path, "two, read by an admin API reload\n");
  watch.watcher.rebase();
  assert.equal(await watch.look(), 0, "the reload read it already");
  await Deno.writeTextFile(path, "three\n");
  assert.equal(await watch.look(), 1);
});

Deno.test("watchConfigFile: a look under way when a rebase comes reports nothing", async () => {
  const folder = await Deno.makeTempDir();
  const path = `${folder}/relay.yaml`;
  await Deno.writeTextFile(path, "one\n");
  let stalled = Promise.withResolvers<void>();
  const looking = Promise.withResolvers<void>();
  using watch = await polled(path, async (at) => {
    const info = await Deno.stat(at);
    looking.resolve();
    await stalled.promise;
    return info;
  });
  const looked = watch.look();
  await looking.promise;
  // The look has seen the file as it was; it is saved, and a reload reads it and rebases the watcher.
  await Deno.writeTextFile(path, "two, longer\n");
  watch.watcher.rebase();
  stalled.resolve();
  assert.equal(await looked, 0, "the look's news is older than the rebase");
  stalled = Promise.withResolvers<void>();
  stalled.resolve();
  assert.equal(await watch.look(), 0, "nothing new since the rebase");
});

Deno.test("watchConfigFile takes a look that could not read the file for want of file descriptors as no news", async () => {
  const folder = await Deno.makeTempDir();
  const path = `${folder}/relay.yaml`;
  await Deno.writeTextFile(path, "one\n");
  let failure: Error | undefined;
  using watch = await polled(path, undefined, (at) => failure ? Promise.reject(failure) : Deno.readFile(at));
  failure = new Error(`Too many open files (os error 24): readfile '${path}'`);
  assert.equal(await watch.look(), 0, "relay's state, not the file's");
  failure = undefined;
  assert.equal(await watch.look(), 0, "the file read again is the one seen");
  failure = new Error(`Too many open files (os error 24): readfile '${path}'`);
  await Deno.writeTextFile(path, "two, longer\n");
  assert.equal(await watch.look(), 0, "what changed is told by the next look that can read");
  failure = undefined;
  assert.equal(await watch.look(), 1);
  failure = new Deno.errors.PermissionDenied(`Permission denied (os error 13): readfile '${path}'`);
  assert.equal(
    await watch.look(),
    2,
    "a file that cannot be read otherwise is one more state, for the reload to report",
  );
});
