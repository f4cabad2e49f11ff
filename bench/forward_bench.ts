import { forwardBody } from "../src/stream/forward.ts";
import { drain, mockStreamChunks, STREAM_EVENTS, streamOf } from "./_fixtures.ts";

const chunks = await mockStreamChunks();

Deno.bench({
  name: `reading the upstream body directly, ${STREAM_EVENTS} events`,
  group: "forward",
  baseline: true,
  async fn() {
    await drain(streamOf(chunks));
  },
});

Deno.bench({
  name: `forwardBody, ${STREAM_EVENTS} events`,
  group: "forward",
  async fn() {
    const reader = streamOf(chunks).getReader();
    const first = await reader.read();
    await drain(forwardBody(reader, {
      first: first.value!,
      sse: true,
      describeFailure: () => ({ errorType: "api_error", message: "unreachable in this bench" }),
      onDone: () => {},
    }));
  },
});
