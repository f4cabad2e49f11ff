import type { ClientConfig } from "../config/clients.ts";
import { globMatches, globsMeet, ModelMap } from "../routing/model_map.ts";
import type { Router } from "../routing/router.ts";
import type { TokenCount } from "../routing/token_estimate.ts";
import { type UsageReservation, UsageWindow } from "../routing/usage_window.ts";
import type { UsageDetail } from "../stream/usage_tap.ts";
import { sameSecret } from "../util/secret.ts";
import { formatUsd } from "../util/usd.ts";
import type { LedgerRecord } from "./entry.ts";
import { addNanos, NANOS_PER_USD, toNanos } from "./nanos.ts";
import { Pricing } from "./pricing.ts";

/** What a client asks for, as relay knows it before sending. */
export interface ClientRequest {
  model: string | undefined;
  estimate: TokenCount;
  /**
   * Where the model may run and as which id (`Router.runsAs`): a budget holds the dearest of them. Only
   * asked for a client with a budget. Without it, the model is priced by its own name.
   */
  routes?: Pick<Router, "runsAs">;
  /**
   * What the request asks to be served at that costs more (its `speed: "fast"`, `inference_geo: "us"`):
   * a budget holds its worst case at those prices, and sends a fast-mode request only where the model
   * has a fast-mode price.
   */
  asks?: Pick<UsageDetail, "speed" | "inferenceGeo">;
}

/**
 * The answer to {@linkcode ClientRegistry.admit}: go ahead, settling the tokens really used once the
 * request ends (`undefined` keeps the estimate), or cancelling when relay refused it before any
 * upstream saw it (it then counts against neither `rpm` nor `tpm`); or a refusal to send the client as is.
 * Either ends what the request holds of the client's monthly budget: charge its cost first.
 */
export type Admission =
  | {
    ok: true;
    settle(tokens: TokenCount | undefined): void;
    cancel(): void;
    /**
     * Why the request may not go to `provider`, which runs it as `model`, the id the ledger prices it
     * by: its client has a monthly budget and `model` no price, so it would spend none of it.
     * `undefined` when it may, and always for a provider whose answers cost nothing (the mock).
     */
    unpriced(model: string | undefined, provider?: string): string | undefined;
  }
  | { ok: false; status: 403 | 429; message: string; retryAfterS?: number };

/** A calendar month (UTC) in wall-clock ms: from its first midnight (`since`) to the next month's. */
export interface Month {
  since: number;
  until: number;
}

/**
 * What the ledger file holds of `clients`' spend in `month`, by name, in USD; `undefined` when it
 * could not be read (the reader said why).
 */
export type SpendReader = (
  month: Month,
  clients: readonly string[],
) => ReadonlyMap<string, number> | undefined;

export interface ClientRegistryOptions {
  /** Wall-clock ms: months turn on the calendar. */
  now?: () => number;
  /**
   * Monotonic ms (`performance.now` unless given), which `rpm` and `tpm` windows run on: on the wall
   * clock, a step back of an hour would refuse a client for that hour.
   */
  monotonic?: () => number;
  /** What each client spent this month before now, by name, in USD (the ledger's month to date). */
  spent?: ReadonlyMap<string, number>;
  /**
   * Reads budgeted clients' spend in a month the registry turns to: the calendar's next, or another
   * one the clock was set to (and may come back from), so that a month is counted from the ledger,
   * never from zero, and a budget spent in it stays spent. It must not throw: it is asked on the
   * request path, once a turn. Without one (`ledger.enabled: false`) a month keeps what relay counted
   * of it since it started only while it is one of the last three the clock was in: a clock that
   * returns to an older one counts it from zero.
   */
  readMonth?: SpendReader;
  /**
   * The prices the ledger charges by, which a budgeted client's requests in flight are held at; the
   * built-in ones unless given.
   */
  pricing?: Pricing;
}

/**
 * A client as `GET /admin/status` shows it: its limits and how spent each is, never its token. Spend is
 * this calendar month's (UTC) as this relay counts it: the ledger's month to date when relay started (or
 * the month began), what it charged since and, for a budgeted client, what the ledger file says after
 * each batch it writes, so relays sharing the file see each other's spend.
 */
export interface ClientStatus {
  name: string;
  /** The `models` globs it may use; `undefined` when it may use any. */
  models: readonly string[] | undefined;
  /** Its `rpm` and `tpm` limits and how spent each window is, 0 to 1; `undefined` for none. */
  rpm: { limit: number; saturation: number } | undefined;
  tpm: { limit: number; saturation: number } | undefined;
  /** `monthly_budget_usd`, or `undefined` for none. */
  monthlyBudgetUsd: number | undefined;
  spentUsd: number;
  /** What its requests in flight may still spend: their worst case, held against its budget. */
  heldUsd: number;
}

/** One client's live state: its token's bytes, windows and allowed models. */
interface _Client {
  config: ClientConfig;
  token: Uint8Array;
  rpm: UsageWindow | undefined;
  tpm: UsageWindow | undefined;
  models: ModelMap | undefined;
}

/**
 * The clients allowed to call relay (`server.auth.tokens`): who a token belongs to, and whether that
 * client may send a request now. Enforced before anything is sent: a model outside the client's
 * `models` and a spent `monthly_budget_usd` get 403 (retrying cannot help), a full `rpm` or `tpm`
 * window gets 429 with `retry-after`. Budgets count what the ledger priced so far this month, kept in
 * memory so the request path never waits on the database but when the month changes (`readMonth`),
 * and read back from it after every batch it writes ({@linkcode written}), so relays sharing one
 * ledger file see each other's spend. A budgeted client's request in flight holds its worst case (its
 * estimated input and all of `max_tokens`, at its model's price) until it ends, and admission counts
 * what is held as spent: parallel requests cannot all start on what is left, and a month ends above its
 * budget by about one request's cost at most.
 *
 * @example
 * ```ts
 * const clients = new ClientRegistry([{ name: "ci", token, rpm: 60, models: ["claude-haiku-*"] }]);
 * const name = clients.identify(offeredToken); // "ci", or undefined
 * const admission = clients.admit(name, { model: "claude-haiku-4-5", estimate });
 * if (admission.ok) admission.settle(usage);
 * ```
 */
export class ClientRegistry {
  #clients: _Client[] = [];
  #byName = new Map<string, _Client>();
  /** The names of the clients with a `monthly_budget_usd`, whose spend a shared ledger is read for. */
  #budgeted: string[] = [];
  readonly #now: () => number;
  readonly #monotonic: () => number;
  readonly #readMonth: SpendReader | undefined;
  /** The month counted now: the one the clock is in. */
  #month: Month;
  /**
   * The starts of the last {@linkcode _KEPT_MONTHS} months the clock was in, the current one last: the
   * months whose counts are kept.
   */
  #recent: number[];
  /**
   * Each client's spend by month (by its start) in billionths of a dollar, the unit costs are rounded
   * to: whole numbers add up exactly, where ten charges of $0.10 come to $0.9999999999999999 and pass a
   * $1 budget. Only the months in `#recent` are kept (and, until the next turn, one a late request was
   * charged to): a clock set back to one of them finds it.
   */
  readonly #spent = new Map<number, Map<string, number>>();
  /**
   * The part of `#spent` this relay charged that the ledger file lacks (yet, or for good if dropped),
   * by month likewise.
   */
  readonly #unwritten = new Map<number, Map<string, number>>();
  /**
   * What each budgeted client's requests in flight hold, in billionths of a dollar. By name, as the
   * spend is, so a client a reload keeps keeps its holds; no month clears them, the requests still run.
   */
  readonly #held = new Map<string, number>();
  #pricing: Pricing;

  constructor(clients: readonly ClientConfig[], options: ClientRegistryOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#monotonic = options.monotonic ?? (() => performance.now());
    this.#readMonth = options.readMonth;
    this.#pricing = options.pricing ?? new Pricing();
    this.#month = calendarMonth(this.#now());
    this.#recent = [this.#month.since];
    this.#spent.set(
      this.#month.since,
      new Map([...options.spent ?? []].map(([name, usd]) => [name, toNanos(usd)])),
    );
    this.reconfigure(clients);
  }

  /**
   * Serves `clients` from now on, as a config reload lists them: a token removed stops working at
   * once, a new one works at once. A client keeps what it spent this month whatever changed, and its
   * `rpm` and `tpm` windows while their limits stay the same, so a reload neither resets a limit nor
   * forgives a budget. Requests already admitted finish as they were.
   */
  reconfigure(clients: readonly ClientConfig[]): void {
    const previous = this.#byName;
    this.#clients = clients.map((config) => this.#client(config, previous.get(config.name)));
    this.#byName = new Map(this.#clients.map((client) => [client.config.name, client]));
    this.#budgeted = clients.flatMap((config) =>
      config.monthly_budget_usd === undefined ? [] : [config.name]
    );
  }

  #client(config: ClientConfig, previous: _Client | undefined): _Client {
    return {
      config,
      token: _encoder.encode(config.token),
      rpm: this.#window(config.rpm, previous?.config.rpm === config.rpm ? previous?.rpm : undefined),
      tpm: this.#window(config.tpm, previous?.config.tpm === config.tpm ? previous?.tpm : undefined),
      models: config.models && new ModelMap(Object.fromEntries(config.models.map((glob) => [glob, glob]))),
    };
  }

  /**
   * Holds requests admitted from now on at `pricing` (a reloaded config's), and checks their models by
   * it; requests in flight keep what they hold.
   */
  reprice(pricing: Pricing): void {
    this.#pricing = pricing;
  }

  /** A window for `limit`: `kept` when there is one (the same limit before a reload), else a new one. */
  #window(limit: number | undefined, kept: UsageWindow | undefined): UsageWindow | undefined {
    if (limit === undefined) return undefined;
    return kept ?? new UsageWindow({ limit, now: this.#monotonic });
  }

  /** Every client, in the config's order, as the admin status shows them. */
  status(): ClientStatus[] {
    const window = (limit: number | undefined, window: UsageWindow | undefined) =>
      limit === undefined || !window ? undefined : { limit, saturation: window.ratio };
    return this.#clients.map(({ config, rpm, tpm }) => ({
      name: config.name,
      models: config.models,
      rpm: window(config.rpm, rpm),
      tpm: window(config.tpm, tpm),
      monthlyBudgetUsd: config.monthly_budget_usd,
      spentUsd: this.spentThisMonth(config.name),
      heldUsd: (this.#held.get(config.name) ?? 0) / NANOS_PER_USD,
    }));
  }

  /** How many clients there are; none means relay takes any request (loopback only). */
  get size(): number {
    return this.#clients.length;
  }

  /**
   * The name of the client whose token `offered` is, or `undefined`. Every token is compared in full,
   * whatever matched or differed first, so timing reveals neither a token's prefix nor its place.
   */
  identify(offered: string): string | undefined {
    const bytes = _encoder.encode(offered);
    let found: _Client | undefined;
    for (const client of this.#clients) {
      if (sameSecret(bytes, client.token) && !found) found = client;
    }
    return found?.config.name;
  }

  /**
   * Why the client `name` may not use `model` at all (its `models`), or `undefined` when it may; an
   * unknown or absent name may. One message for a request and for `GET /v1/models/{id}`.
   */
  modelRefusal(name: string | undefined, model: string): string | undefined {
    return _modelRefusal(name === undefined ? undefined : this.#byName.get(name), model);
  }

  /**
   * Of `served`, model names and globs as `models:` tables write them, those the client `name` may ask
   * for some of, as narrowly as can be said: a served name or glob within what it may use; else its own
   * names and globs a wider served glob covers (`claude-*` served, `claude-haiku-*` allowed:
   * `claude-haiku-*`); else a served glob that only meets one of them (`claude-sonnet-*` served,
   * `claude-*-4-5` allowed). A client without a model limit may use them all.
   */
  usableModels(name: string | undefined, served: readonly string[]): string[] {
    const client = name === undefined ? undefined : this.#byName.get(name);
    if (!client?.models) return [...served];
    const { models } = client;
    const allowed = client.config.models!;
    const usable = served.flatMap((pattern) => {
      if (models.resolve(pattern) !== undefined) return [pattern];
      const covered = allowed.filter((own) => globMatches(pattern, own));
      if (covered.length > 0) return covered;
      return allowed.some((own) => globsMeet(pattern, own)) ? [pattern] : [];
    });
    return [...new Set(usable)];
  }

  /** Whether the client `name` is limited to some models (`server.auth.tokens[].models`). */
  limitsModels(name: string | undefined): boolean {
    return name !== undefined && this.#byName.get(name)?.models !== undefined;
  }

  /** Whether the client `name` may send `request` now; an unknown or absent name has no limits. */
  admit(name: string | undefined, request: ClientRequest): Admission {
    const client = name === undefined ? undefined : this.#byName.get(name);
    if (!client) return _UNLIMITED;
    const { config } = client;
    const refusal = request.model === undefined ? undefined : _modelRefusal(client, request.model);
    if (refusal !== undefined) return { ok: false, status: 403, message: refusal };
    const budget = config.monthly_budget_usd;
    // A request that costs nothing (a token count, the model list, a model served only where it is free,
    // as the mock) is neither refused nor held back by the budget: it spends none of it.
    const worst = budget === undefined ? 0 : this.#worstCase(request);
    if (budget !== undefined && worst > 0) {
      const spent = this.#spentNanos(config.name);
      if (spent >= toNanos(budget)) {
        return {
          ok: false,
          status: 403,
          message: `monthly budget of ${formatUsd(budget)} for client ${config.name} is spent ` +
            `(${_usd(spent)} this month); resets ${new Date(this.#month.until).toISOString().slice(0, 10)}`,
        };
      }
      // Only what requests in flight may still spend stands in the way: a wait, not a refusal.
      const held = this.#held.get(config.name) ?? 0;
      if (spent + held >= toNanos(budget)) {
        return {
          ok: false,
          status: 429,
          message: `client ${config.name}'s requests in flight may spend ${_usd(held)} of its monthly ` +
            `budget of ${formatUsd(budget)} (${_usd(spent)} spent this month); retry once one ends`,
          retryAfterS: _HELD_RETRY_S,
        };
      }
    }
    // The input is certain; the output estimate (max_tokens) only bounds it, as in the key pool.
    const { input } = request.estimate;
    const tokens = input + request.estimate.output;
    const full = (
      [[client.rpm, 1, 1, "requests", "rpm"], [client.tpm, tokens, input, "tokens", "tpm"]] as const
    ).find(([window, amount, least]) => window && !window.fits(amount, least));
    if (full) {
      const [window, amount, least, unit, field] = full;
      const blockedUntil = window!.blockedUntil(amount, least) ?? 0;
      const retryAfterS = Math.max(1, Math.ceil((blockedUntil - this.#monotonic()) / 1_000));
      return {
        ok: false,
        status: 429,
        message:
          `client ${config.name} is over its limit of ${config[field]} ${unit} per minute (${field}); ` +
          `retry in ${retryAfterS} s`,
        retryAfterS,
      };
    }
    const counted: UsageReservation | undefined = client.rpm?.reserve(1);
    const reservation: UsageReservation | undefined = client.tpm?.reserve(tokens, input);
    // Only a request that may cost something holds part of a budget (a client without one prices nothing).
    const release = worst > 0 ? this.#hold(config.name, worst) : undefined;
    return {
      ok: true,
      settle: (used) => {
        if (reservation && used) client.tpm!.settle(reservation, used.input + used.output);
        release?.();
      },
      cancel: () => {
        if (counted) client.rpm!.settle(counted, 0);
        if (reservation) client.tpm!.settle(reservation, 0);
        release?.();
      },
      unpriced: (model, provider) =>
        budget === undefined || this.#pricing.isFree(provider) ||
          this.#pricing.priceFor(model, request.asks?.speed)
          ? undefined
          : `client ${config.name} has a monthly budget and no ` +
            `${request.asks?.speed === "fast" ? "fast-mode " : ""}price is known for model ${model}; ` +
            "add it under pricing: in the config",
    };
  }

  /**
   * `request`'s worst case, in nanodollars: its estimated input and all of its output bound, at the
   * dearest price of the ids its model runs as wherever it may go (an alias priced by the model behind
   * it, a regional endpoint with its premium), or of its own name when no route is known; nothing when
   * none has a price (`unpriced` keeps such a request from running).
   */
  #worstCase({ model, estimate, routes, asks }: ClientRequest): number {
    const worst = { ...estimate, cacheRead: 0, cacheWrite: 0, cacheWrite1h: 0, ...asks };
    const runsAs = model === undefined || !routes ? [{ model, provider: undefined }] : routes.runsAs(model);
    return Math.max(
      0,
      ...runsAs.map((where) => toNanos(this.#pricing.cost(where.model, worst, where.provider) ?? 0)),
    );
  }

  /**
   * Holds `nanos` against `name`'s budget while a request is in flight. Returns how to let go of it;
   * only the first call does, so a request ended twice cannot credit the budget.
   */
  #hold(name: string, nanos: number): () => void {
    addNanos(this.#held, name, nanos);
    let holding = true;
    return () => {
      if (holding) addNanos(this.#held, name, -nanos);
      holding = false;
    };
  }

  /**
   * Adds what a request of `name` that arrived at `time` (wall-clock ms) cost to its month: the month
   * it arrived in, as the ledger counts it, whichever month the clock is in now.
   */
  charge(name: string | undefined, costUsd: number | undefined, time: number): void {
    if (name === undefined || costUsd === undefined) return;
    this.#roll();
    const month = this.#monthOf(time);
    const nanos = toNanos(costUsd);
    addNanos(_ofMonth(this.#spent, month), name, nanos);
    addNanos(_ofMonth(this.#unwritten, month), name, nanos);
  }

  /**
   * Takes a batch of records, each charged before, that the ledger has just written. With `readSpent`
   * (given when other relays write to the same file) and a client with a budget, what each such client
   * spent this month is then read back from the file (USD in a month, by client, for those clients),
   * so relays sharing the file see each other's spend, and what this relay charged but has not written
   * yet is added to it.
   */
  written(
    records: readonly Pick<LedgerRecord, "client" | "costUsd" | "time">[],
    readSpent?: SpendReader,
  ): void {
    this.#roll();
    for (const { client, costUsd, time } of records) {
      if (client === undefined || costUsd === undefined) continue;
      // A month forgotten since its charge forgot the charge too: there is nothing left to take it from.
      const unwritten = this.#unwritten.get(this.#monthOf(time));
      if (unwritten) addNanos(unwritten, client, -toNanos(costUsd));
    }
    if (readSpent) this.#readBack(readSpent);
  }

  /**
   * Sets each budgeted client's spend this month to what `read` finds of it in the file, plus what
   * this relay charged and has not written yet; keeps the count when the file cannot be read.
   */
  #readBack(read: SpendReader): void {
    const budgeted = this.#budgeted;
    if (budgeted.length === 0) return;
    const inFile = read(this.#month, budgeted);
    if (!inFile) return;
    const spent = _ofMonth(this.#spent, this.#month.since);
    const unwritten = this.#unwritten.get(this.#month.since);
    for (const name of budgeted) {
      spent.set(name, toNanos(inFile.get(name) ?? 0) + (unwritten?.get(name) ?? 0));
    }
  }

  /** What `name` spent this calendar month (UTC), in USD. */
  spentThisMonth(name: string): number {
    return this.#spentNanos(name) / NANOS_PER_USD;
  }

  #spentNanos(name: string): number {
    this.#roll();
    return this.#spent.get(this.#month.since)?.get(name) ?? 0;
  }

  /** The start of the month a request that arrived at `time` counts in. */
  #monthOf(time: number): number {
    // Compared before any Date is made: nearly every request is this month's.
    return time >= this.#month.since && time < this.#month.until ? this.#month.since : monthStart(time);
  }

  #roll(): void {
    // Compared before any Date is made: this runs for every request of a named client.
    const now = this.#now();
    if (now >= this.#month.since && now < this.#month.until) return;
    this.#month = calendarMonth(now);
    this.#turnTo(this.#month.since);
    // The calendar turned, or the clock was set to another month and may come back: what relay kept
    // of a month does not hold what it wrote before a restart, nor what other relays wrote, and a
    // budget spent there would be forgotten.
    if (this.#readMonth) this.#readBack(this.#readMonth);
  }

  /** Makes `current` the latest of `#recent`, and forgets the counts of every month not in it then. */
  #turnTo(current: number): void {
    this.#recent = [...this.#recent.filter((month) => month !== current), current].slice(-_KEPT_MONTHS);
    for (const byMonth of [this.#spent, this.#unwritten]) {
      for (const month of byMonth.keys()) {
        if (!this.#recent.includes(month)) byMonth.delete(month);
      }
    }
  }
}

/** The totals of `month` in `byMonth`, made empty if there are none yet. */
function _ofMonth(byMonth: Map<number, Map<string, number>>, month: number): Map<string, number> {
  let totals = byMonth.get(month);
  if (!totals) byMonth.set(month, totals = new Map());
  return totals;
}

const _encoder = new TextEncoder();

/**
 * How many months, the last the clock was in, keep their counts; a clock that wanders further forgets
 * the oldest, which the ledger gives back when the clock returns to it. Three: the current month, the
 * one before the calendar turned (a request that arrived before midnight on the 1st is charged to it
 * when it ends), and one a clock was wrongly set to, or back from, for a while.
 */
const _KEPT_MONTHS = 3;

/**
 * How long a request held back by what requests in flight hold is told to wait: about as long as a
 * short answer takes, so a retry finds what ended meanwhile.
 */
const _HELD_RETRY_S = 5;

/** The admission of a request no named client sent: nothing to count, nothing to hold. */
const _UNLIMITED: Admission = { ok: true, settle: () => {}, cancel: () => {}, unpriced: () => undefined };

/** Billionths of a dollar as a message shows them: `$50.12`, `$0.0042`. */
function _usd(nanos: number): string {
  return formatUsd(nanos / NANOS_PER_USD);
}

function _modelRefusal(client: _Client | undefined, model: string): string | undefined {
  if (!client?.models || client.models.resolve(model) !== undefined) return undefined;
  return `client ${client.config.name} may not use model ${model}; allowed: ${
    client.config.models!.join(", ")
  }`;
}

/**
 * The start of the calendar month (UTC) `time` falls in, in ms since the epoch: where a monthly budget
 * starts counting.
 *
 * @example
 * ```ts
 * new Date(monthStart(Date.UTC(2026, 10, 17, 9))).toISOString(); // "2026-11-01T00:00:00.000Z"
 * ```
 */
export function monthStart(time: number): number {
  return calendarMonth(time).since;
}

/**
 * The calendar month (UTC) `time` falls in: what a monthly budget counts.
 *
 * @example
 * ```ts
 * calendarMonth(Date.UTC(2026, 11, 17)); // { since: Date.UTC(2026, 11, 1), until: Date.UTC(2027, 0, 1) }
 * ```
 */
export function calendarMonth(time: number): Month {
  const date = new Date(time);
  return {
    since: Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1),
    until: Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1),
  };
}
