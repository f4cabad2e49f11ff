import assert from "node:assert/strict";
import { MetricsRegistry } from "../../src/util/prometheus.ts";
import { parsePrometheus } from "../_helpers/prometheus.ts";

Deno.test("the registry renders counters, gauges and histograms in the text format, HELP and TYPE first", () => {
  const registry = new MetricsRegistry();
  const requests = registry.counter({ name: "t_requests_total", help: "Requests.", labels: ["status"] });
  registry.counter({ name: "t_reloads_total", help: "Reloads." });
  const depth = registry.gauge({ name: "t_depth", help: "Depth." });
  registry.gauge({
    name: "t_open",
    help: "Open.",
    labels: ["p"],
    collect: () => [[{ p: "a" }, 1], [{ p: "b" }, 0]],
  });
  const latency = registry.histogram({
    name: "t_seconds",
    help: "Latency.",
    labels: ["p"],
    buckets: [0.1, 1],
  });
  requests.inc({ status: "200" });
  requests.inc({ status: "200" }, 2);
  requests.inc({ status: "503" });
  depth.set({}, 4);
  for (const seconds of [0.05, 0.5, 0.7, 3]) latency.observe({ p: "a" }, seconds);
  assert.equal(
    registry.render(),
    [
      "# HELP t_requests_total Requests.",
      "# TYPE t_requests_total counter",
      't_requests_total{status="200"} 3',
      't_requests_total{status="503"} 1',
      "# HELP t_reloads_total Reloads.",
      "# TYPE t_reloads_total counter",
      "t_reloads_total 0",
      "# HELP t_depth Depth.",
      "# TYPE t_depth gauge",
      "t_depth 4",
      "# HELP t_open Open.",
      "# TYPE t_open gauge",
      't_open{p="a"} 1',
      't_open{p="b"} 0',
      "# HELP t_seconds Latency.",
      "# TYPE t_seconds histogram",
      't_seconds_bucket{p="a",le="0.1"} 1',
      't_seconds_bucket{p="a",le="1"} 3',
      't_seconds_bucket{p="a",le="+Inf"} 4',
      't_seconds_sum{p="a"} 4.25',
      't_seconds_count{p="a"} 4',
      "",
    ].join("\n"),
  );
  parsePrometheus(registry.render());
});

Deno.test("a counter with collect follows totals read at scrape time, and never goes down with them", () => {
  const registry = new MetricsRegistry();
  const totals = new Map([["a", 0]]);
  let reads = 0;
  registry.counter({
    name: "t_written_total",
    help: "Written.",
    labels: ["p"],
    collect: () => {
      reads++;
      return [...totals].map(([p, total]) => [{ p }, total] as const);
    },
  });
  const scraped = () =>
    parsePrometheus(registry.render()).samples("t_written_total").map((
      { labels, value },
    ) => [labels.p, value]);
  assert.equal(reads, 0, "nothing is read until a scrape");
  assert.deepEqual(scraped(), [["a", 0]]);
  totals.set("a", 500).set("b", 2);
  assert.deepEqual(scraped(), [["a", 500], ["b", 2]]);
  // What keeps the totals started again: the counter waits until they pass what it showed.
  totals.set("a", 200).delete("b");
  assert.deepEqual(scraped(), [["a", 500], ["b", 2]], "a series not read keeps its value");
  totals.set("a", 501);
  assert.deepEqual(scraped(), [["a", 501], ["b", 2]]);
  assert.equal(reads, 4);
});

Deno.test("label values are escaped and parse back to themselves", () => {
  const registry = new MetricsRegistry();
  const counter = registry.counter({ name: "t_total", help: "A \\ help\nline.", labels: ["model"] });
  const odd = 'a "quoted" \\ back\nslash}{,=';
  counter.inc({ model: odd });
  const parsed = parsePrometheus(registry.render());
  assert.equal(parsed.value("t_total", { model: odd }), 1);
  assert.equal(parsed.families.get("t_total")!.help, "A \\\\ help\\nline.");
});

Deno.test("the registry refuses bad names, missing or extra labels, falling counters and unordered buckets", () => {
  const registry = new MetricsRegistry();
  assert.throws(() => registry.counter({ name: "bad-name", help: "" }), /invalid metric name/);
  assert.throws(() => registry.counter({ name: "t", help: "", labels: ["le"] }), /invalid label name/);
  const counter = registry.counter({ name: "t_total", help: "", labels: ["a"] });
  assert.throws(() => counter.inc({}), /takes labels a/);
  assert.throws(() => counter.inc({ a: "1", b: "2" }), /takes labels a/);
  assert.throws(() => counter.inc({ a: "1" }, -1), /only go up/);
  assert.throws(() => registry.counter({ name: "t_total", help: "" }), /registered twice/);
  assert.throws(() => registry.histogram({ name: "h", help: "", buckets: [1, 1] }), /increasing order/);
});

Deno.test("the test parser rejects what a scraper would", () => {
  for (
    const [text, problem] of [
      ["x 1", /end with a line feed/],
      ["x 1\n", /undeclared family/],
      ['# TYPE x counter\nx{a="1",a="2"} 1\n', /duplicate label/],
      ['# TYPE x counter\nx{a="\\t"} 1\n', /bad escape/],
      ["# TYPE x counter\nx  1\n", /one space and a value/],
      ["# TYPE x counter\nx -1\n", /negative counter/],
      ["# TYPE x gauge\nx 1\nx 2\n", /duplicate series/],
      ["# TYPE x gauge\n# TYPE y gauge\ny 1\nx 1\n", /together/],
      ['# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n', /cumulative/],
      ['# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n', /\+Inf/],
      ['# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_count 1\n', /_sum or _count/],
    ] as const
  ) {
    assert.throws(() => parsePrometheus(text), problem, text);
  }
});
