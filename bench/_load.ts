/**
 * The load generator of `bench/loopback.ts`: streamed Messages requests at a fixed concurrency, each
 * timed to its first and last body byte, and the percentiles of those times.
 */

/** A small streamed Messages call, as an SDK sends it; the mock answers it with its default 8 text deltas. */
const _BODY = new TextEncoder().encode(JSON.stringify({
  model: "mock-1",
  max_tokens: 256,
  stream: true,
  messages: [{ role: "user", content: "Say hello." }],
}));

const _HEADERS = {
  "content-type": "application/json",
  "anthropic-version": "2023-06-01",
  "x-api-key": "sk-bench-client-0000000000000000",
};

/** Timings of requests to one target, in milliseconds, in the order they finished. */
export interface Samples {
  /** From the `fetch()` call to the first body chunk. */
  ttfb: number[];
  /** From the `fetch()` call to the end of the body. */
  ttlb: number[];
  /** Wall time of the batches they ran in. */
  wallMs: number;
}

/** A server to load, and the body length every answer must have. */
export interface Target {
  name: string;
  url: string;
  /** Answers of another length mean a target changed the stream: the run stops. */
  expectedBytes: number;
}

/** An empty {@linkcode Samples}, to add batches to. */
export function emptySamples(): Samples {
  return { ttfb: [], ttlb: [], wallMs: 0 };
}

/** The body length of one answer from `url`: what every target must then send. */
export async function probeBytes(url: string, signal: AbortSignal): Promise<number> {
  return (await _timedRequest({ name: url, url }, signal)).bytes;
}

/**
 * Sends `count` requests to `target`, `concurrency` at a time, and adds their timings to `into`.
 * Any answer but a 200 with the expected body length stops the run.
 */
export async function runBatch(
  target: Target,
  count: number,
  concurrency: number,
  into: Samples,
  signal: AbortSignal,
): Promise<void> {
  let started = 0;
  const worker = async () => {
    while (started < count) {
      started++;
      const { ttfb, ttlb, bytes } = await _timedRequest(target, signal);
      if (bytes !== target.expectedBytes) {
        throw new Error(
          `${target.name} sent ${bytes} body bytes, not the ${target.expectedBytes} direct sent`,
        );
      }
      into.ttfb.push(ttfb);
      into.ttlb.push(ttlb);
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  into.wallMs += performance.now() - start;
}

async function _timedRequest(
  target: Pick<Target, "name" | "url">,
  signal: AbortSignal,
): Promise<{ ttfb: number; ttlb: number; bytes: number }> {
  const start = performance.now();
  const response = await fetch(`${target.url}/v1/messages`, {
    method: "POST",
    headers: _HEADERS,
    body: _BODY,
    signal,
  });
  if (response.status !== 200 || !response.body) {
    throw new Error(`${target.name} answered ${response.status}: ${await response.text()}`);
  }
  const reader = response.body.getReader();
  let chunk = await reader.read();
  const ttfb = performance.now() - start;
  let bytes = 0;
  while (!chunk.done) {
    bytes += chunk.value.byteLength;
    chunk = await reader.read();
  }
  return { ttfb, ttlb: performance.now() - start, bytes };
}

/** Points of a distribution, in the unit of its values. */
export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles: each one is a value that was observed. */
export function percentiles(values: number[]): Percentiles {
  const sorted = values.toSorted((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[sorted.length - 1] };
}
