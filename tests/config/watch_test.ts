import assert from "node:assert/strict";
import { watchConfigFile } from "../../src/config/watch.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";

/**
 * The real `Deno.watchFs` on whatever folder the watcher asks for, with a way to wait until the watcher
 * has dealt with an event: it asks for the next event only once it is done with the last.
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
            yield event;
            for (const waiter of waiting.filter((waiter) => waiter.matches(event))) {
              waiting.splice(waiting.indexOf(waiter), 1);
              waiter.resolve();
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
