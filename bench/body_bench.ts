import { inspectMessagesBody } from "../src/server/body.ts";
import { withoutUnsignedThinking } from "../src/providers/unsigned_thinking.ts";
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

const json = JSON.parse(new TextDecoder().decode(body));

Deno.bench({
  name: `withoutUnsignedThinking, ${kib} KiB, nothing unsigned (the walk every Anthropic request takes)`,
  group: "inspect body",
  fn: () => void withoutUnsignedThinking(body, json),
});
