import { isBenchWorker, serveBenchWorker } from "./src/bench/worker_server.ts";
import { main } from "./src/cli/main.ts";

// `relay bench` runs its servers on worker threads of this same program when it may not start
// child processes; such a worker serves what the bench asks for instead of reading a command line.
if (isBenchWorker()) serveBenchWorker();
else Deno.exit(await main(Deno.args));
