import { isBenchWorker, serveBenchWorker } from "./src/bench/worker_server.ts";
import { main } from "./src/cli/main.ts";
import { bypassProxyForLoopback } from "./src/util/no_proxy_loopback.ts";

// Before anything fetches: Deno's fetch reads the proxy variables at its first request.
bypassProxyForLoopback();

// `relay bench` runs its servers on worker threads of this same program when it may not start
// child processes; such a worker serves what the bench asks for instead of reading a command line.
if (isBenchWorker()) serveBenchWorker();
else Deno.exit(await main(Deno.args));
