/** The throwaway config of the relay a loopback bench starts. */

/** What the bench's relay needs besides its upstream. */
export interface BenchConfigOptions {
  /** `server.max_concurrent`: at least the bench's highest concurrency, so relay never queues. */
  maxConcurrent: number;
  /**
   * Where its usage ledger goes: the bench's temporary folder, so bench traffic never lands in the
   * ledger of the relay people run (the default path), yet its cost is measured as people run it.
   */
  ledgerPath?: string;
}

/**
 * Config text (JSON, which YAML reads as it is) for a relay whose one provider is the
 * `anthropic-compatible` upstream at `upstream`, on 127.0.0.1 with a port of the system's choosing,
 * logging at the default level (info), which is how people run it. Written to a file for a child
 * relay, parsed directly for one in this process.
 *
 * @example
 * ```ts
 * await Deno.writeTextFile(path, benchConfigText("http://127.0.0.1:9000", { maxConcurrent: 64 }), { mode: 0o600 });
 * ```
 */
export function benchConfigText(upstream: string, options: BenchConfigOptions): string {
  return JSON.stringify(
    {
      server: {
        host: "127.0.0.1",
        port: 0,
        shutdown_grace: "1s",
        max_concurrent: options.maxConcurrent,
        max_queue: options.maxConcurrent,
      },
      log: { level: "info" },
      ...(options.ledgerPath === undefined ? {} : { ledger: { path: options.ledgerPath } }),
      providers: [{
        name: "bench-upstream",
        type: "anthropic-compatible",
        base_url: upstream,
        keys: [{ key: "sk-bench-upstream-0000000000000000" }],
      }],
    },
    null,
    2,
  );
}
