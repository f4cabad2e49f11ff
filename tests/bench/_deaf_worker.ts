/**
 * The bench worker program (`main.ts`'s worker side), except that it never answers `stop`: a server
 * stuck in its own code when the bench ends.
 */
import { serveBenchWorker } from "../../src/bench/worker_server.ts";

serveBenchWorker();
const scope = globalThis as unknown as { onmessage: (event: MessageEvent) => void };
const serve = scope.onmessage;
scope.onmessage = (event) => "stop" in event.data || serve(event);
