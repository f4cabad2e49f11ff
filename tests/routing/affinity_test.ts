import assert from "node:assert/strict";
import { ConversationAffinity, conversationKey } from "../../src/routing/affinity.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";

const A = { provider: "anthropic", key: "k1" };
const B = { provider: "bedrock", key: undefined };

Deno.test("ConversationAffinity remembers where a conversation went, and a newer pin replaces it", () => {
  const affinity = new ConversationAffinity<string>({ now: new FakeClock().now });
  assert.equal(affinity.get("c1"), undefined);
  affinity.set("c1", A);
  assert.deepEqual(affinity.get("c1"), A);
  affinity.set("c1", B);
  assert.deepEqual([affinity.get("c1"), affinity.size], [B, 1]);
});

Deno.test("ConversationAffinity.move pins a conversation only from the pin it was planned with", () => {
  const clock = { now: 0 };
  const affinity = new ConversationAffinity<string>({ ttlMs: 1_000, now: () => clock.now });
  const a = { provider: "a", key: "k1" };
  const b = { provider: "b", key: "k2" };
  affinity.move("c", undefined, a);
  assert.deepEqual(affinity.get("c"), a, "unpinned: the first pins it");
  affinity.move("c", undefined, b);
  assert.deepEqual(affinity.get("c"), a, "planned before that pin: it does not move");
  affinity.move("c", { ...a }, b);
  assert.deepEqual(affinity.get("c"), b, "planned with it (a failover): it moves");
  affinity.move("c", { provider: "b", key: "other" }, a);
  assert.deepEqual(affinity.get("c"), b, "another key of the provider is another pin");
  clock.now = 5_000;
  affinity.move("c", undefined, a);
  assert.deepEqual(affinity.get("c"), a, "an expired pin is none");
});

Deno.test("ConversationAffinity forgets a conversation idle for its TTL, each request renewing it", () => {
  const clock = new FakeClock();
  const affinity = new ConversationAffinity<string>({ ttlMs: 1000, now: clock.now });
  affinity.set("c1", A);
  clock.advance(999);
  assert.deepEqual(affinity.get("c1"), A);
  clock.advance(999);
  assert.deepEqual(affinity.get("c1"), A, "the last request renewed the lease");
  clock.advance(1000);
  assert.equal(affinity.get("c1"), undefined);
  assert.equal(affinity.size, 0, "an expired conversation is dropped when found");
});

Deno.test("ConversationAffinity drops the least recently used past its size", () => {
  const affinity = new ConversationAffinity<string>({ maxEntries: 3, now: new FakeClock().now });
  for (const conversation of ["c1", "c2", "c3"]) affinity.set(conversation, A);
  affinity.get("c1");
  affinity.set("c4", B);
  assert.equal(affinity.size, 3);
  assert.deepEqual(
    ["c1", "c2", "c3", "c4"].map((conversation) => affinity.get(conversation)?.provider),
    ["anthropic", undefined, "anthropic", "bedrock"],
  );
});

Deno.test("ConversationAffinity refuses a size below one", () => {
  assert.throws(() => new ConversationAffinity({ maxEntries: 0 }), /at least 1/);
});

const SYSTEM = [
  { type: "text", text: "x-anthropic-billing-header: cc_version=2.1.200; cch=1a2b;" },
  {
    type: "text",
    text: "You are Claude Code, Anthropic's official CLI for Claude.",
    cache_control: { type: "ephemeral" },
  },
];

/** A conversation's body at its `turns`-th request: the first turn carries the cache mark. */
function body(turns: number, firstText = "fix the failing test", system: unknown = SYSTEM) {
  const messages: unknown[] = [{
    role: "user",
    content: [{
      type: "text",
      text: firstText,
      ...(turns === 1 ? { cache_control: { type: "ephemeral" } } : {}),
    }],
  }];
  for (let turn = 1; turn < turns; turn++) {
    messages.push({ role: "assistant", content: [{ type: "text", text: `turn ${turn}` }] });
    messages.push({ role: "user", content: `more ${turn}` });
  }
  return { model: "claude-sonnet-4-5", system, messages, max_tokens: 32000 };
}

Deno.test("conversationKey is Claude Code's session, a subagent's its own", () => {
  const session = new Headers({ "x-claude-code-session-id": "5f0c2e4a-5e2f-4b7b-9a53-1c6f4e3b2d10" });
  const agent = new Headers(session);
  agent.set("x-claude-code-agent-id", "agent-7");
  const main = conversationKey(session, body(1));
  assert.equal(conversationKey(session, body(9, "something else")), main, "the body does not matter");
  assert.notEqual(conversationKey(agent, body(1)), main);
  const long = new Headers({ "x-claude-code-session-id": "s".repeat(10_000) });
  const hashed = conversationKey(long, body(1))!;
  assert.match(hashed, /^[A-Za-z0-9_-]{32}$/, "a long session id is hashed, so no key is long");
  assert.notEqual(
    conversationKey(new Headers({ "x-claude-code-session-id": "s".repeat(10_001) }), body(1)),
    hashed,
  );
  assert.notEqual(main, conversationKey(new Headers(), body(1)), "a session never shares an opening's key");
});

Deno.test("conversationKey without a session is the opening: system prefix and first user message", () => {
  const headers = new Headers();
  const opening = conversationKey(headers, body(1));
  assert.equal(conversationKey(headers, body(5)), opening, "later turns and a moved cache mark keep it");
  assert.notEqual(conversationKey(headers, body(1, "another task")), opening);
  assert.notEqual(conversationKey(headers, body(1, undefined, "You are a pirate.")), opening);
  assert.equal(
    conversationKey(
      headers,
      body(3, "fix the failing test", [...SYSTEM, { type: "text", text: "z".repeat(1000) + "x" }]),
    ),
    conversationKey(
      headers,
      body(3, "fix the failing test", [...SYSTEM, { type: "text", text: "z".repeat(1000) + "y" }]),
    ),
    "past its first 1024 characters the system prompt does not count",
  );
  const opened = (text: string) => conversationKey(headers, { messages: [{ role: "user", content: text }] });
  const page = "p".repeat(8191);
  assert.notEqual(opened(`${page}a`), opened(`${page}b`), "the first message counts to its 8192nd character");
  assert.equal(opened(`${page}a${"x".repeat(400_000)}`), opened(`${page}a`), "and no further");
  assert.equal(
    conversationKey(headers, { messages: [{ role: "user", content: "hi" }] }),
    conversationKey(headers, { messages: [{ role: "user", content: [{ type: "text", text: "hi" }] }] }),
    "a string and a text block are the same text",
  );
});

Deno.test("conversationKey is undefined when nothing identifies a conversation", () => {
  const headers = new Headers();
  assert.deepEqual(
    [
      conversationKey(headers, null),
      conversationKey(headers, "text"),
      conversationKey(headers, {}),
      conversationKey(headers, { messages: [] }),
      conversationKey(headers, { messages: [null, { role: "assistant", content: "hi" }] }),
    ],
    [undefined, undefined, undefined, undefined, undefined],
  );
});
