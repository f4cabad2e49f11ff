/**
 * A strict parser of Prometheus' text exposition format (0.0.4), for checking relay's `/metrics`: it
 * throws on anything a scraper could reject or misread, rather than skip it.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: "counter" | "gauge" | "histogram" | "summary" | "untyped";
  help?: string;
  samples: Sample[];
}

export interface Exposition {
  families: Map<string, Family>;
  /** The value of the one sample named `name` with exactly `labels`; `undefined` when there is none. */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** Every sample named `name`. */
  samples(name: string): Sample[];
}

const _NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const _LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const _TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

/** Parses `text`, throwing with the line number at the first violation. */
export function parsePrometheus(text: string): Exposition {
  if (text !== "" && !text.endsWith("\n")) throw new Error("the exposition must end with a line feed");
  const families = new Map<string, Family>();
  const finished = new Set<string>();
  let current: Family | undefined;
  const seen = new Set<string>();
  const lines = text.split("\n").slice(0, -1);
  lines.forEach((line, index) => {
    const fail = (message: string): never => {
      throw new Error(`line ${index + 1}: ${message}: ${JSON.stringify(line)}`);
    };
    if (line.trim() === "") return;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta;
      if (!_NAME.test(name)) fail("bad metric name");
      const family = _familyFor(families, finished, name, () => fail("family declared after its samples"));
      if (current && current !== family) finished.add(current.name);
      current = family;
      if (kind === "HELP") {
        if (family.help !== undefined) fail("second HELP");
        if (/\\[^\\n]/.test(rest.replaceAll("\\\\", ""))) fail("bad escape in HELP");
        family.help = rest;
      } else {
        if (family.samples.length > 0) fail("TYPE after samples");
        if (!_TYPES.has(rest)) fail("unknown TYPE");
        family.type = rest as Family["type"];
      }
      return;
    }
    if (line.startsWith("#")) return;
    const sample = _parseSample(line, fail);
    const base = _baseName(sample.name, families);
    const family = families.get(base) ?? fail("sample of an undeclared family");
    if (family !== current) fail("samples of a family must be together");
    if (family.type === "histogram" && !/_(bucket|sum|count)$/.test(sample.name)) {
      fail("bad histogram sample");
    }
    if (family.type !== "histogram" && sample.name !== family.name) {
      fail("sample name differs from its family");
    }
    if (family.type === "counter" && !(sample.value >= 0)) fail("negative counter");
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    if (seen.has(key)) fail("duplicate series");
    seen.add(key);
    family.samples.push(sample);
  });
  for (const family of families.values()) {
    if (family.type === "histogram") _checkHistogram(family);
  }
  const samples = (name: string) =>
    [...families.values()].flatMap((f) => f.samples.filter((s) => s.name === name));
  return {
    families,
    samples,
    value(name, labels = {}) {
      const match = samples(name).filter((sample) =>
        Object.keys(sample.labels).length === Object.keys(labels).length &&
        Object.entries(labels).every(([label, value]) => sample.labels[label] === value)
      );
      if (match.length > 1) {
        throw new Error(`${name} ${JSON.stringify(labels)} matches ${match.length} samples`);
      }
      return match[0]?.value;
    },
  };
}

function _familyFor(
  families: Map<string, Family>,
  finished: Set<string>,
  name: string,
  reopened: () => never,
): Family {
  if (finished.has(name)) reopened();
  let family = families.get(name);
  if (!family) families.set(name, family = { name, type: "untyped", samples: [] });
  return family;
}

function _baseName(name: string, families: Map<string, Family>): string {
  if (families.has(name)) return name;
  const stripped = name.replace(/_(bucket|sum|count)$/, "");
  return families.get(stripped)?.type === "histogram" ? stripped : name;
}

function _parseSample(line: string, fail: (message: string) => never): Sample {
  const head = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line) ?? fail("bad metric name");
  const name = head[1];
  let at = name.length;
  const labels: Record<string, string> = {};
  if (line[at] === "{") {
    at++;
    while (line[at] !== "}") {
      const label = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(line.slice(at)) ?? fail("bad label");
      if (!_LABEL.test(label[1]) || label[1].startsWith("__")) fail("bad label name");
      if (label[1] in labels) fail("duplicate label");
      at += label[0].length;
      let value = "";
      for (;;) {
        const char = line[at++] ?? fail("unterminated label value");
        if (char === '"') break;
        if (char === "\\") {
          const escaped = line[at++];
          if (escaped === "\\") value += "\\";
          else if (escaped === '"') value += '"';
          else if (escaped === "n") value += "\n";
          else fail("bad escape in label value");
        } else value += char;
      }
      labels[label[1]] = value;
      if (line[at] === ",") at++;
      else if (line[at] !== "}") fail("expected , or }");
    }
    at++;
  }
  const rest = /^ (\S+)( -?\d+)?$/.exec(line.slice(at)) ?? fail("expected one space and a value");
  return { name, labels, value: _float(rest[1], fail) };
}

function _float(text: string, fail: (message: string) => never): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) fail("bad value");
  return Number(text);
}

function _checkHistogram(family: Family): void {
  const groups = new Map<string, { buckets: [number, number][]; sum?: number; count?: number }>();
  for (const sample of family.samples) {
    const { le, ...rest } = sample.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    let group = groups.get(key);
    if (!group) groups.set(key, group = { buckets: [] });
    if (sample.name.endsWith("_bucket")) {
      if (le === undefined) throw new Error(`${family.name}: a bucket without le`);
      group.buckets.push([le === "+Inf" ? Infinity : Number(le), sample.value]);
    } else if (sample.name.endsWith("_sum")) group.sum = sample.value;
    else group.count = sample.value;
  }
  for (const [key, group] of groups) {
    const where = `${family.name}${key}`;
    if (group.sum === undefined || group.count === undefined) {
      throw new Error(`${where}: _sum or _count missing`);
    }
    const last = group.buckets.at(-1);
    if (!last || last[0] !== Infinity) throw new Error(`${where}: the last bucket must be le="+Inf"`);
    if (last[1] !== group.count) throw new Error(`${where}: the +Inf bucket must equal _count`);
    group.buckets.forEach(([bound, count], i) => {
      if (Number.isNaN(bound)) throw new Error(`${where}: le is not a number`);
      if (i === 0) return;
      const [previousBound, previousCount] = group.buckets[i - 1];
      if (bound <= previousBound) throw new Error(`${where}: buckets out of order`);
      if (count < previousCount) throw new Error(`${where}: buckets must be cumulative`);
    });
  }
}
