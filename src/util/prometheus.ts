/**
 * A small metrics registry and its Prometheus text exposition (format 0.0.4): counters, gauges and
 * histograms with fixed buckets. Every metric declares its label names up front and every sample must
 * give exactly those, so a typo or a stray label is a bug caught at once rather than a new series.
 */

/** Label values by label name. */
export type Labels = Readonly<Record<string, string>>;

/** What every metric declares. */
export interface MetricOptions {
  /** `[a-zA-Z_:][a-zA-Z0-9_:]*`; counters end in `_total` by convention. */
  name: string;
  help: string;
  /** The label names every sample gives, in the order they are written. */
  labels?: readonly string[];
}

/** The content type of {@linkcode MetricsRegistry.render}'s output. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const _METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const _LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

abstract class _Metric<S> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  protected readonly series = new Map<string, { labels: Labels; state: S }>();

  constructor(options: MetricOptions, readonly type: "counter" | "gauge" | "histogram") {
    if (!_METRIC_NAME.test(options.name)) throw new Error(`invalid metric name ${options.name}`);
    for (const label of options.labels ?? []) {
      if (!_LABEL_NAME.test(label) || label.startsWith("__") || label === "le") {
        throw new Error(`invalid label name ${label} on ${options.name}`);
      }
    }
    this.name = options.name;
    this.help = options.help;
    this.labelNames = options.labels ?? [];
  }

  protected stateFor(labels: Labels, initial: () => S): S {
    const key = this.#key(labels);
    let entry = this.series.get(key);
    if (!entry) this.series.set(key, entry = { labels, state: initial() });
    return entry.state;
  }

  /** The sample lines, without HELP and TYPE. */
  abstract lines(): string[];

  #key(labels: Labels): string {
    const names = Object.keys(labels);
    if (names.length !== this.labelNames.length || this.labelNames.some((name) => !(name in labels))) {
      throw new Error(`${this.name} takes labels ${this.labelNames.join(", ") || "none"}, not ${names}`);
    }
    return this.labelNames.map((name) => labels[name]).join("\u0000");
  }
}

/** Samples read at scrape time: each series' labels and its value. */
export type Collect = () => Iterable<readonly [Labels, number]>;

/** A metric's options, with its samples read at scrape time by `collect` when it has one. */
export interface CollectedMetricOptions extends MetricOptions {
  collect?: Collect;
}

/**
 * A count that only goes up: counted as things happen, or read at scrape time by `collect` from a
 * total kept elsewhere.
 *
 * @example
 * ```ts
 * const reloads = registry.counter({ name: "relay_config_reloads_total", help: "Reloads.", labels: ["result"] });
 * reloads.inc({ result: "success" });
 * registry.counter({ name: "relay_written_total", help: "Written.", collect: () => [[{}, writer.written]] });
 * ```
 */
export class Counter extends _Metric<{ value: number }> {
  readonly #collect: Collect | undefined;

  constructor(options: CollectedMetricOptions) {
    super(options, "counter");
    this.#collect = options.collect;
    if (this.labelNames.length === 0) this.inc({}, 0);
  }

  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0)) throw new RangeError(`${this.name} can only go up, not by ${by}`);
    this.stateFor(labels, () => ({ value: 0 })).value += by;
  }

  lines(): string[] {
    for (const [labels, total] of this.#collect?.() ?? []) {
      const state = this.stateFor(labels, () => ({ value: 0 }));
      // A total that went down (what keeps it started again) must not take the counter with it: a
      // scraper takes a counter going down for a restart, and counts the whole total again.
      if (total > state.value) state.value = total;
    }
    return [...this.series.values()].map(({ labels, state }) => _sample(this.name, labels, state.value));
  }
}

/**
 * A value that goes up and down: set as things happen, or read at scrape time by `collect`.
 *
 * @example
 * ```ts
 * registry.gauge({ name: "relay_queue_depth", help: "Waiting.", collect: () => [[{}, limiter.queued]] });
 * ```
 */
export class Gauge extends _Metric<{ value: number }> {
  readonly #collect: Collect | undefined;

  constructor(options: CollectedMetricOptions) {
    super(options, "gauge");
    this.#collect = options.collect;
  }

  set(labels: Labels, value: number): void {
    this.stateFor(labels, () => ({ value: 0 })).value = value;
  }

  lines(): string[] {
    if (this.#collect) {
      this.series.clear();
      for (const [labels, value] of this.#collect()) this.set(labels, value);
    }
    return [...this.series.values()].map(({ labels, state }) => _sample(this.name, labels, state.value));
  }
}

/**
 * Observations counted into fixed buckets, with their sum and count.
 *
 * @example
 * ```ts
 * const ttfb = registry.histogram({ name: "ttfb_seconds", help: "TTFB.", labels: ["provider"], buckets: [0.1, 1] });
 * ttfb.observe({ provider: "anthropic" }, 0.42);
 * ```
 */
export class Histogram extends _Metric<{ counts: number[]; sum: number; count: number }> {
  readonly #buckets: readonly number[];

  constructor(options: MetricOptions & { buckets: readonly number[] }) {
    super(options, "histogram");
    const { buckets } = options;
    if (
      buckets.length === 0 || buckets.some((bound, i) => !Number.isFinite(bound) || bound <= buckets[i - 1])
    ) {
      throw new Error(`${this.name} needs finite buckets in increasing order`);
    }
    this.#buckets = buckets;
  }

  observe(labels: Labels, value: number): void {
    const state = this.stateFor(labels, () => ({ counts: this.#buckets.map(() => 0), sum: 0, count: 0 }));
    const index = this.#buckets.findIndex((bound) => value <= bound);
    if (index >= 0) state.counts[index]++;
    state.sum += value;
    state.count++;
  }

  lines(): string[] {
    return [...this.series.values()].flatMap(({ labels, state }) => {
      let cumulative = 0;
      const buckets = this.#buckets.map((bound, i) => {
        cumulative += state.counts[i];
        return _sample(`${this.name}_bucket`, { ...labels, le: _number(bound) }, cumulative);
      });
      return [
        ...buckets,
        _sample(`${this.name}_bucket`, { ...labels, le: "+Inf" }, state.count),
        _sample(`${this.name}_sum`, labels, state.sum),
        _sample(`${this.name}_count`, labels, state.count),
      ];
    });
  }
}

type _AnyMetric = Counter | Gauge | Histogram;

/**
 * The metrics of one server, rendered in Prometheus' text format. Created per server and passed to
 * whatever records into it: there is no global registry.
 *
 * @example
 * ```ts
 * const registry = new MetricsRegistry();
 * const requests = registry.counter({ name: "relay_requests_total", help: "Requests.", labels: ["status"] });
 * requests.inc({ status: "200" });
 * registry.render(); // "# HELP relay_requests_total Requests.\n# TYPE relay_requests_total counter\n..."
 * ```
 */
export class MetricsRegistry {
  readonly #metrics = new Map<string, _AnyMetric>();

  counter(options: CollectedMetricOptions): Counter {
    return this.#add(new Counter(options));
  }

  gauge(options: CollectedMetricOptions): Gauge {
    return this.#add(new Gauge(options));
  }

  histogram(options: MetricOptions & { buckets: readonly number[] }): Histogram {
    return this.#add(new Histogram(options));
  }

  /** Every metric, HELP and TYPE first, in the order they were registered. */
  render(): string {
    return [...this.#metrics.values()].map((metric) =>
      [
        `# HELP ${metric.name} ${metric.help.replaceAll("\\", "\\\\").replaceAll("\n", "\\n")}`,
        `# TYPE ${metric.name} ${metric.type}`,
        ...metric.lines(),
      ].join("\n") + "\n"
    ).join("");
  }

  #add<M extends _AnyMetric>(metric: M): M {
    if (this.#metrics.has(metric.name)) throw new Error(`metric ${metric.name} is registered twice`);
    this.#metrics.set(metric.name, metric);
    return metric;
  }
}

function _sample(name: string, labels: Labels, value: number): string {
  const pairs = Object.entries(labels).map(([label, text]) => `${label}="${_escapeLabel(text)}"`);
  return `${name}${pairs.length > 0 ? `{${pairs.join(",")}}` : ""} ${_number(value)}`;
}

function _escapeLabel(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function _number(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}
