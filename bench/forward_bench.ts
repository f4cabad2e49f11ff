import { forwardBody } from "../src/stream/forward.ts";
import { ANTHROPIC_PING } from "../src/stream/keep_alive.ts";
import { SecretMask } from "../src/stream/secret_mask.ts";
import { WatchedReader } from "../src/stream/watched_reader.ts";
import { drain, mockStreamChunks, STREAM_EVENTS } from "./_fixtures.ts";

const chunks = await mockStreamChunks();

Deno.bench({
  name: `reading the upstream body directly, ${STREAM_EVENTS} events`,
  group: "forward",
  baseline: true,
  async fn() {
    await drain(ReadableStream.from(chunks));
  },
});

for (const masked of [false, true]) {
  Deno.bench({
    name: `forwardBody with relay's deadlines and keep-alive${
      masked ? ", its key masked" : ""
    }, ${STREAM_EVENTS} events`,
    group: "forward",
    async fn() {
      const reader = new WatchedReader(ReadableStream.from(chunks).getReader(), {
        firstByteMs: 600_000,
        idleMs: 300_000,
      });
      const first = await reader.read();
      await drain(forwardBody(reader, {
        first: first.value!,
        sse: true,
        mask: masked ? SecretMask.for("sk-ant-api03-bench-key-0000000000000000x7f2") : undefined,
        keepAlive: { intervalMs: 15_000, ping: ANTHROPIC_PING },
        describeFailure: () => ({ errorType: "api_error", message: "unreachable in this bench" }),
        onDone: () => {},
      }));
    },
  });
}
