import assert from "node:assert/strict";
import { endOfLastEvent, EventBoundary } from "../../src/stream/event_boundary.ts";

const encode = (text: string) => new TextEncoder().encode(text);

Deno.test("EventBoundary is at a boundary after a blank line, however the line ends are cut", () => {
  for (
    const chunks of [["event: ping\ndata: {}\n\n"], ["event: ping\r\n", "data: {}\r", "\n\r\n"], ["a\r\r"]]
  ) {
    const boundary = new EventBoundary();
    for (const chunk of chunks) boundary.see(encode(chunk));
    assert.equal(boundary.atBoundary, true, JSON.stringify(chunks));
  }
  for (const chunks of [["event: ping\ndata: {}\n"], ["event: ping\r\n", "data: {}\r\n"], ["a\n\nb"]]) {
    const boundary = new EventBoundary();
    for (const chunk of chunks) boundary.see(encode(chunk));
    assert.equal(boundary.atBoundary, false, JSON.stringify(chunks));
  }
});

Deno.test("endOfLastEvent finds the end of the last whole event, with any line ends", () => {
  for (
    const [text, end] of [
      ["event: ping\ndata: {}\n\nevent: mess", 22],
      ["event: ping\r\ndata: {}\r\n\r\nevent: mess", 25],
      ["a\r\rb", 3],
      ["a\n\n", 3],
      ["event: ping\ndata: {}\n", 0],
      // A CR at the end may be the first half of a CRLF: it ends nothing yet.
      ["a\r\n\r", 0],
      ["", 0],
    ] as const
  ) assert.equal(endOfLastEvent(encode(text)), end, JSON.stringify(text));
});
