import assert from "node:assert/strict";
import { compareEventStreams, firstByteDifference, withoutPings } from "../../src/bench/fidelity.ts";
import { SseDecoder, type SseEvent } from "../../src/stream/sse_decode.ts";
import { loadGolden } from "../_helpers/golden.ts";

// Differences are placed among the events but pings: so are the positions these tests edit.
const pinged = new SseDecoder().feed(await loadGolden("parallel_tools"));
const parallel = withoutPings(pinged);
const thinking = withoutPings(new SseDecoder().feed(await loadGolden("thinking")));

/** `events` with the JSON data of event `at` changed by `edit`. */
// deno-lint-ignore no-explicit-any
function edited(events: SseEvent[], at: number, edit: (data: any) => void): SseEvent[] {
  const data = JSON.parse(events[at].data);
  edit(data);
  return events.with(at, { event: events[at].event, data: JSON.stringify(data) });
}

function position(events: SseEvent[], predicate: (event: SseEvent) => boolean): number {
  const at = events.findIndex(predicate);
  assert.ok(at >= 0, "the golden has the event the test edits");
  return at;
}

Deno.test("identical streams have no differences, whatever the JSON spacing and key order", () => {
  assert.deepEqual(compareEventStreams(parallel, parallel), []);
  const respaced = parallel.map(({ event, data }) => ({ event, data: JSON.stringify(JSON.parse(data)) }));
  assert.deepEqual(compareEventStreams(parallel, respaced), []);
});

Deno.test("a changed tool_use id is reported at its event, with both ids", () => {
  const at = position(parallel, ({ data }) => data.includes("toolu_01VhkXjz3pNMfaT2EbY6sFbo"));
  const relayed = edited(parallel, at, (data) => data.content_block.id = "toolu_relay_made_this_up");
  assert.deepEqual(compareEventStreams(parallel, relayed), [
    { at, field: "tool_use id", direct: "toolu_01VhkXjz3pNMfaT2EbY6sFbo", relay: "toolu_relay_made_this_up" },
  ]);
});

Deno.test("a reordered event is reported at both positions it moved between", () => {
  const stop = position(parallel, ({ event }) => event === "message_delta");
  const relayed = parallel.toSpliced(stop, 2, parallel[stop + 1], parallel[stop]);
  const differences = compareEventStreams(parallel, relayed);
  assert.deepEqual(
    differences.filter(({ field }) => field === "event"),
    [
      { at: stop, field: "event", direct: "message_delta", relay: "message_stop" },
      { at: stop + 1, field: "event", direct: "message_stop", relay: "message_delta" },
    ],
  );
});

Deno.test("a moved block index is reported as an index difference", () => {
  const at = position(
    parallel,
    ({ event, data }) => event === "content_block_stop" && data.includes('"index":2'),
  );
  const relayed = edited(parallel, at, (data) => data.index = 1);
  assert.deepEqual(compareEventStreams(parallel, relayed), [{ at, field: "index", direct: "2", relay: "1" }]);
});

Deno.test("a missing signature is reported: emptied, or its event dropped", () => {
  const at = position(thinking, ({ data }) => data.includes("signature_delta"));
  const signature = JSON.parse(thinking[at].data).delta.signature;
  const emptied = edited(thinking, at, (data) => data.delta.signature = "");
  assert.deepEqual(compareEventStreams(thinking, emptied), [{
    at,
    field: "signature",
    direct: signature,
    relay: "",
  }]);

  const dropped = thinking.toSpliced(at, 1);
  const [first, ...rest] = compareEventStreams(thinking, dropped);
  assert.deepEqual(first, { at, field: "event", direct: "content_block_delta", relay: "content_block_stop" });
  assert.deepEqual(rest.at(-1), {
    at: thinking.length - 1,
    field: "event",
    direct: "message_stop",
    relay: null,
  });
});

Deno.test("changed usage is reported, in message_start and in message_delta", () => {
  const start = position(parallel, ({ event }) => event === "message_start");
  const delta = position(parallel, ({ event }) => event === "message_delta");
  const relayed = edited(
    edited(parallel, start, (data) => data.message.usage.input_tokens = 1),
    delta,
    (data) => data.usage.output_tokens = 130,
  );
  const differences = compareEventStreams(parallel, relayed);
  assert.deepEqual(differences.map(({ at, field }) => [at, field]), [[start, "usage"], [delta, "usage"]]);
  assert.match(differences[1].direct!, /"output_tokens":131/);
  assert.match(differences[1].relay!, /"output_tokens":130/);
});

Deno.test("other changed data, such as text, is a data difference", () => {
  const at = position(parallel, ({ data }) => data.includes("text_delta"));
  const relayed = edited(parallel, at, (data) => data.delta.text = "I'll look up both cities at once!");
  const differences = compareEventStreams(parallel, relayed);
  assert.deepEqual(differences.map(({ at, field }) => [at, field]), [[at, "data"]]);
});

Deno.test("data that is not JSON is compared as text", () => {
  const direct = [{ event: "message", data: "[DONE]" }];
  assert.deepEqual(compareEventStreams(direct, direct), []);
  assert.deepEqual(compareEventStreams(direct, [{ event: "message", data: "[done]" }]), [
    { at: 0, field: "data", direct: "[DONE]", relay: "[done]" },
  ]);
});

Deno.test("a stream cut short by relay misses every event after the cut", () => {
  const cut = parallel.slice(0, -2);
  assert.deepEqual(compareEventStreams(parallel, cut), [
    { at: parallel.length - 2, field: "event", direct: "message_delta", relay: null },
    { at: parallel.length - 1, field: "event", direct: "message_stop", relay: null },
  ]);
});

Deno.test("firstByteDifference: none for the same bytes; else the first byte that parts, with a little of each", () => {
  const bytes = (text: string) => new TextEncoder().encode(text);
  assert.equal(firstByteDifference(bytes('data: {"a":1}\n\n'), bytes('data: {"a":1}\n\n')), undefined);
  assert.deepEqual(firstByteDifference(bytes('data: {"a":1}\n\n'), bytes('data: { "a":1}\n\n')), {
    at: 7,
    direct: '"a":1}\n\n',
    relay: ' "a":1}\n\n',
  });
  assert.deepEqual(
    firstByteDifference(bytes("event: ping\n\n"), bytes("event: ping\n\n: comment\n")),
    { at: 13, direct: "", relay: ": comment\n" },
    "one stream the other's start: they part where the shorter ends",
  );
  const long = "x".repeat(100);
  assert.equal(firstByteDifference(bytes(long + "a"), bytes(long + "b"))?.direct, "a");
  assert.equal(firstByteDifference(bytes("a" + long), bytes("b" + long))?.relay.length, 40, "40 bytes shown");
});

Deno.test("pings are no difference: relay's keep-alive during a silence, or an upstream's ping missing", () => {
  const ping = { event: "ping", data: '{"type":"ping"}' };
  const keptAlive = [...thinking.slice(0, 3), ping, ping, ...thinking.slice(3)];
  assert.deepEqual(compareEventStreams(thinking, keptAlive), []);
  assert.ok(pinged.length > parallel.length, "the golden has a ping");
  assert.deepEqual(compareEventStreams(pinged, parallel), []);
});
