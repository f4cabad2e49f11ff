import assert from "node:assert/strict";
import { watchConfigFile, watchPoints } from "../../src/config/watch.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";

/**
 * The real `Deno.watchFs` on whatever folder the watcher asks for, with a way to wait until the watcher
 * has dealt with an event: it asks for the next event, or stops, only once it is done with the last.
 */
function recordedFolder() {
  const folders: string[] = [];
  const waiting: { matches: (event: Deno.FsEvent) => boolean; resolve: () => void }[] = [];
  return {
    folders,
    watchFolder(folder: string) {
      folders.push(folder);
      const real = Deno.watchFs(folder, { recursive: false });
      return {
        async *[Symbol.asyncIterator]() {
          for await (const event of real) {
            try {
              yield event;
            } finally {
              // Also when the watcher stops at this event.
              for (const waiter of waiting.filter((waiter) => waiter.matches(event))) {
                waiting.splice(waiting.indexOf(waiter), 1);
                waiter.resolve();
              }
            }
          }
        },
        close: () => real.close(),
      };
    },
    /** Resolves once the watcher has dealt with an event of this kind naming `name`. */
    dealtWith(kind: Deno.FsEvent["kind"], name: string): Promise<void> {
      const { promise, resolve } = Promise.withResolvers<void>();
      const matches = (event: Deno.FsEvent) =>
        event.kind === kind && event.paths.some((path) => path.endsWith(`/${name}`));
      waiting.push({ matches, resolve });
      return promise;
    },
  };
}

Deno.test("watchConfigFile watches the folder: it sees a rename-save, then a later write to the new file", async () => {
  const folder = await Deno.makeTempDir();
  const path = `${folder}/relay.yaml`;
  await Deno.writeTextFile(path, "one\n");
  const clock = new FakeClock();
  const recorded = recordedFolder();
  let changes = 0;
  using _watcher = _disposable(
    watchConfigFile(path, () => changes++, { timers: clock, watchFolder: recorded.watchFolder }),
  );
  assert.deepEqual(recorded.folders, [folder], "a watch on the file itself would follow the old inode");

  await Deno.writeTextFile(`${folder}/.relay.yaml.tmp`, "two\n");
  const renamed = recorded.dealtWith("rename", "relay.yaml");
  await Deno.rename(`${folder}/.relay.yaml.tmp`, path);
  await renamed;
  clock.advance(200);
  assert.equal(changes, 1);

  const written = recorded.dealtWith("modify", "relay.yaml");
  await Deno.writeTextFile(path, "three\n");
  await written;
  clock.advance(200);
  assert.equal(changes, 2);
});

/** `watchConfigFile` on `path` with the real `Deno.watchFs`, counting changes on a fake clock. */
function realWatch(path: string) {
  const clock = new FakeClock();
  const recorded = recordedFolder();
  const counted = { changes: 0 };
  const watcher = watchConfigFile(path, () => counted.changes++, {
    timers: clock,
    watchFolder: recorded.watchFolder,
  });
  return { clock, recorded, counted, watcher };
}

Deno.test("watchConfigFile through a link to another folder sees the target edited", async () => {
  const folder = await Deno.makeTempDir();
  await Deno.mkdir(`${folder}/real`);
  await Deno.mkdir(`${folder}/conf`);
  await Deno.writeTextFile(`${folder}/real/prod.yaml`, "one\n");
  await Deno.symlink(`${folder}/real/prod.yaml`, `${folder}/conf/relay.yaml`);
  const { clock, recorded, counted, watcher } = realWatch(`${folder}/conf/relay.yaml`);
  using _watcher = _disposable(watcher);
  assert.deepEqual(recorded.folders.toSorted(), [`${folder}/conf`, `${folder}/real`]);

  const written = recorded.dealtWith("modify", "prod.yaml");
  await Deno.writeTextFile(`${folder}/real/prod.yaml`, "two\n");
  await written;
  clock.advance(200);
  assert.equal(counted.changes, 1);
});

Deno.test("watchConfigFile follows a ConfigMap's ..data link when it is swapped, and the new target after", async () => {
  const folder = await Deno.makeTempDir();
  await Deno.mkdir(`${folder}/..v1`);
  await Deno.writeTextFile(`${folder}/..v1/relay.yaml`, "one\n");
  await Deno.symlink("..v1", `${folder}/..data`);
  await Deno.symlink("..data/relay.yaml", `${folder}/relay.yaml`);
  const { clock, recorded, counted, watcher } = realWatch(`${folder}/relay.yaml`);
  using _watcher = _disposable(watcher);
  assert.deepEqual(recorded.folders, [folder, `${folder}/..v1`]);

  // As the kubelet updates it: a new folder, a new link to it, renamed over ..data at once.
  await Deno.mkdir(`${folder}/..v2`);
  await Deno.writeTextFile(`${folder}/..v2/relay.yaml`, "two\n");
  await Deno.symlink("..v2", `${folder}/..tmp`);
  const swapped = recorded.dealtWith("rename", "..data");
  await Deno.rename(`${folder}/..tmp`, `${folder}/..data`);
  await swapped;
  await Deno.remove(`${folder}/..v1`, { recursive: true });
  clock.advance(200);
  assert.equal(counted.changes, 1);
  assert.deepEqual(recorded.folders, [folder, `${folder}/..v1`, `${folder}/..v2`]);

  const written = recorded.dealtWith("modify", "relay.yaml");
  await Deno.writeTextFile(`${folder}/..v2/relay.yaml`, "three\n");
  await written;
  clock.advance(200);
  assert.equal(counted.changes, 2);
});

Deno.test("watchConfigFile sees its folder replaced, then watches the new one", async () => {
  const folder = await Deno.makeTempDir();
  await Deno.mkdir(`${folder}/conf`);
  await Deno.writeTextFile(`${folder}/conf/relay.yaml`, "one\n");
  const { clock, recorded, counted, watcher } = realWatch(`${folder}/conf/relay.yaml`);
  using _watcher = _disposable(watcher);

  // As a deploy tool swaps it: the new folder renamed in where the old one was.
  await Deno.mkdir(`${folder}/conf.new`);
  await Deno.writeTextFile(`${folder}/conf.new/relay.yaml`, "two\n");
  const moved = recorded.dealtWith("remove", "conf");
  await Deno.rename(`${folder}/conf`, `${folder}/conf.old`);
  await moved;
  await Deno.rename(`${folder}/conf.new`, `${folder}/conf`);
  clock.advance(200);
  assert.equal(counted.changes, 1);
  assert.deepEqual(recorded.folders, [`${folder}/conf`, `${folder}/conf`], "watched again: another folder");

  const written = recorded.dealtWith("modify", "relay.yaml");
  await Deno.writeTextFile(`${folder}/conf/relay.yaml`, "three\n");
  await written;
  clock.advance(200);
  assert.equal(counted.changes, 2);
});

Deno.test("watchPoints lists each link met on the way and the file it leads to, by real folder", async () => {
  const folder = await Deno.makeTempDir();
  await Deno.mkdir(`${folder}/a/..v1`, { recursive: true });
  await Deno.symlink("a", `${folder}/link`);
  await Deno.symlink("..v1", `${folder}/a/..data`);
  await Deno.symlink("../a/..data/prod.yaml", `${folder}/a/relay.yaml`);
  assert.deepEqual(
    watchPoints(`${folder}/link/relay.yaml`),
    new Map([
      [folder, new Set(["link"])],
      [`${folder}/a`, new Set(["relay.yaml", "..data"])],
      [`${folder}/a/..v1`, new Set(["prod.yaml"])],
    ]),
    "the target need not exist",
  );
  assert.deepEqual(watchPoints(`${folder}/plain.yaml`), new Map([[folder, new Set(["plain.yaml"])]]));
});

/** A folder whose events the test sends by hand, watched for `relay.yaml` on a fake clock. */
function fedWatch() {
  const clock = new FakeClock();
  const events: Deno.FsEvent[] = [];
  let wake = Promise.withResolvers<void>();
  let drained = Promise.withResolvers<void>();
  let closed = false;
  const folder = {
    // The watcher asks for its next event only once it has dealt with the last one.
    async *[Symbol.asyncIterator]() {
      while (!closed) {
        const event = events.shift();
        if (event) {
          yield event;
          continue;
        }
        drained.resolve();
        await wake.promise;
      }
    },
    close() {
      closed = true;
      wake.resolve();
    },
  };
  const counted = { changes: 0 };
  const watcher = watchConfigFile("/etc/relay/relay.yaml", () => counted.changes++, {
    timers: clock,
    watchFolder: () => folder,
  });
  return {
    clock,
    counted,
    watcher,
    /** Sends events for these files, one each; resolves once the watcher has dealt with them all. */
    send(...files: string[]): Promise<void> {
      for (const file of files) events.push({ kind: "modify", paths: [`/etc/relay/${file}`] });
      drained = Promise.withResolvers<void>();
      wake.resolve();
      wake = Promise.withResolvers<void>();
      return drained.promise;
    },
  };
}

Deno.test("watchConfigFile runs once per burst: each event restarts the quiet time", async () => {
  const { clock, counted, watcher, send } = fedWatch();
  using _watcher = _disposable(watcher);
  await send("relay.yaml");
  clock.advance(150);
  await send("relay.yaml");
  assert.deepEqual(clock.armed, [200], "the earlier wait is cleared, not left to fire");
  clock.advance(199);
  assert.equal(counted.changes, 0, "still inside the quiet time after the last event");
  clock.advance(1);
  assert.equal(counted.changes, 1);
});

Deno.test("watchConfigFile ignores the folder's other files", async () => {
  const { clock, counted, watcher, send } = fedWatch();
  using _watcher = _disposable(watcher);
  await send("other.yaml", ".relay.yaml.swp", "relay.yaml", "relay.yaml.bak");
  assert.equal(clock.timersSet, 1, "only relay.yaml's event armed a timer");
  clock.advance(200);
  assert.equal(counted.changes, 1);
});

Deno.test("watchConfigFile's close drops a change still waiting out its quiet time", async () => {
  const { clock, counted, watcher, send } = fedWatch();
  await send("relay.yaml");
  watcher.close();
  clock.advance(200);
  assert.equal(counted.changes, 0);
});

function _disposable(watcher: { close(): void }): Disposable {
  return { [Symbol.dispose]: () => watcher.close() };
}

/** A folder watch the test feeds events by hand; it records when it is closed. */
function handFedFolder() {
  const events: Deno.FsEvent[] = [];
  let wake: (() => void) | undefined;
  let dealtWith: (() => void) | undefined;
  const watch = {
    closed: false,
    /** Hands the watcher `event`; resolves once it has dealt with it (it asks for the next). */
    push(event: Deno.FsEvent): Promise<void> {
      events.push(event);
      wake?.();
      return new Promise<void>((resolve) => dealtWith = resolve);
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        while (events.length > 0) {
          yield events.shift()!;
          dealtWith?.();
        }
        await new Promise<void>((resolve) => wake = resolve);
      }
    },
    close() {
      watch.closed = true;
    },
  };
  return watch;
}

Deno.test("watchConfigFile that cannot watch every folder watches none, and throws", async () => {
  const folder = await Deno.makeTempDir();
  await Deno.mkdir(`${folder}/real`);
  await Deno.writeTextFile(`${folder}/real/relay.yaml`, "one\n");
  await Deno.symlink("real/relay.yaml", `${folder}/relay.yaml`);
  const started: ReturnType<typeof handFedFolder>[] = [];
  assert.throws(() =>
    watchConfigFile(`${folder}/relay.yaml`, () => {}, {
      watchFolder: () => {
        if (started.length === 1) throw new Deno.errors.PermissionDenied("not this one");
        const watch = handFedFolder();
        started.push(watch);
        return watch;
      },
    }), Deno.errors.PermissionDenied);
  assert.deepEqual(started.map((watch) => watch.closed), [true]);
  await Deno.remove(folder, { recursive: true });
});

Deno.test("watchConfigFile closed takes no event still queued for a change", async () => {
  const folder = await Deno.makeTempDir();
  const clock = new FakeClock();
  const watch = handFedFolder();
  let changes = 0;
  const watcher = watchConfigFile(`${folder}/relay.yaml`, () => changes++, {
    timers: clock,
    watchFolder: () => watch,
  });
  watcher.close();
  await watch.push({ kind: "modify", paths: [`${folder}/relay.yaml`] });
  clock.advance(1_000);
  assert.deepEqual([changes, clock.armed], [0, []]);
  await Deno.remove(folder);
});
