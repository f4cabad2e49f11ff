/**
 * The bench worker program (`main.ts`'s worker side), except that its relay dies of an uncaught error
 * at its tenth request upstream, which it leaves unanswered: a server that fails in the middle of a run.
 */
import { serveBenchWorker } from "../../src/bench/worker_server.ts";

const _DIES_AT = 10;

if ((globalThis as unknown as { name: string }).name.endsWith(":relay")) {
  const fetchUpstream = globalThis.fetch;
  let sent = 0;
  globalThis.fetch = (...args) => {
    if (++sent < _DIES_AT) return fetchUpstream(...args);
    queueMicrotask(() => {
      throw new Error("the relay crashed");
    });
    return new Promise(() => {});
  };
}
serveBenchWorker();
