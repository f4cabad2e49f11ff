import type { Logger } from "../util/logger.ts";
import type { ClientRegistry } from "./clients.ts";
import type { LedgerEntry, LedgerSink, RecordOptions } from "./entry.ts";
import type { Pricing } from "./pricing.ts";
import type { LedgerWriter } from "./writer.ts";

export interface UsageRecorderOptions {
  pricing: Pricing;
  /** Charged with each request's cost, for the monthly budgets. */
  clients?: ClientRegistry;
  /** Where records are written; without one (`ledger.enabled: false`) budgets count in memory only. */
  writer?: LedgerWriter;
  logger: Logger;
}

/** Unpriced models warned about, at most: a client can name a new model in every request. */
const _MAX_WARNED_MODELS = 1024;

/**
 * Where relay hands each ended request: prices it by the model that ran, charges the client's month
 * and queues the record for the database. The promise it returns is the writer's backpressure.
 *
 * @example
 * ```ts
 * const recorder = new UsageRecorder({ pricing: new Pricing(), clients, writer, logger });
 * await recorder.record(entry);
 * ```
 */
export class UsageRecorder implements LedgerSink {
  readonly #options: UsageRecorderOptions;
  #pricing: Pricing;
  #unpriced = new Set<string>();

  constructor(options: UsageRecorderOptions) {
    this.#options = options;
    this.#pricing = options.pricing;
  }

  /** Prices requests that end from now on by `pricing` (a reloaded config's). */
  reprice(pricing: Pricing): void {
    this.#pricing = pricing;
    // A model the new prices still lack is worth one more warning.
    this.#unpriced = new Set();
  }

  record(entry: LedgerEntry, options?: RecordOptions): void | Promise<void> {
    const model = entry.upstreamModel ?? entry.model;
    const costUsd = entry.usage ? this.#pricing.cost(model, entry.usage, entry.provider) : 0;
    if (
      costUsd === undefined && model !== undefined && !this.#unpriced.has(model) &&
      this.#unpriced.size < _MAX_WARNED_MODELS
    ) {
      this.#unpriced.add(model);
      // A model priced at standard speed lacks only a fast-mode price: say which to add.
      const fast = entry.usage?.speed === "fast" && this.#pricing.priceOf(model) !== undefined;
      this.#options.logger.warn(fast ? "no fast-mode price for model" : "no price for model", {
        model,
        hint: fast
          ? "its fast-mode requests are recorded without a cost; add fast: to its price under pricing: in the config"
          : "its requests are recorded without a cost; add it under pricing: in the config",
      });
    }
    this.#options.clients?.charge(entry.client, costUsd, entry.time);
    return this.#options.writer?.record({ ...entry, costUsd }, options);
  }
}
