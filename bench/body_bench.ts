import { inspectMessagesBody } from "../src/server/body.ts";
import { claudeCodeBody } from "./_fixtures.ts";

const body = claudeCodeBody(400 * 1024);
const kib = Math.round(body.byteLength / 1024);

Deno.bench({
  name: `TextDecoder + JSON.parse, ${kib} KiB`,
  group: "inspect body",
  baseline: true,
  fn: () => void JSON.parse(new TextDecoder().decode(body)),
});

Deno.bench({
  name: `inspectMessagesBody, ${kib} KiB`,
  group: "inspect body",
  fn: () => void inspectMessagesBody(body),
});
