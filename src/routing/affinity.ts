import { createHash } from "node:crypto";

/** Where a conversation's requests have been going. */
export interface AffinityTarget<K> {
  /** The provider's name in the config. */
  provider: string;
  /** `undefined` for providers without keys. */
  key: K | undefined;
}

/** How long a {@linkcode ConversationAffinity} remembers, and how much. */
export interface ConversationAffinityOptions {
  /** Since the conversation's last request, in ms; an hour, the longest prompt-cache lifetime. */
  ttlMs?: number;
  /** Conversations remembered at most; the least recently used go first; 10 000. */
  maxEntries?: number;
  /**
   * Monotonic ms, so an hour of affinity is an hour whatever the wall clock does; `performance.now`
   * unless given.
   */
  now?: () => number;
}

/**
 * Which provider and key each conversation is on, so its next requests go there too: Anthropic's
 * thinking signatures only validate where they were made, and a prompt cache only hits on the key
 * (organisation) that wrote it. The caller keeps the pin while that provider and key are usable and
 * `move`s it from the pin it was planned with when it had to go elsewhere; forgetting is by age and by
 * size, with no timers. A key is best named by what a reload keeps (its secret's fingerprint), not by
 * an object a reload builds anew.
 *
 * @example
 * ```ts
 * const affinity = new ConversationAffinity<string>({ now: () => performance.now() });
 * const conversation = conversationKey(request.headers, body);
 * const pinned = conversation === undefined ? undefined : affinity.get(conversation);
 * // ... order providers with preferNamed(order, pinned?.provider),
 * // prefer the key fingerprinted pinned?.key ...
 * if (conversation !== undefined) {
 *   affinity.move(conversation, pinned, { provider: route.name, key: keyId(key) });
 * }
 * ```
 */
export class ConversationAffinity<K> {
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  // A Map iterates in insertion order: re-inserting on use keeps the least recently used first.
  readonly #entries = new Map<string, { target: AffinityTarget<K>; expiresAt: number }>();

  /** An empty map; see {@linkcode ConversationAffinityOptions} for the defaults. */
  constructor(options: ConversationAffinityOptions = {}) {
    this.#ttlMs = options.ttlMs ?? 3_600_000;
    this.#maxEntries = options.maxEntries ?? 10_000;
    if (!(this.#maxEntries >= 1)) throw new RangeError("maxEntries must be at least 1");
    this.#now = options.now ?? (() => performance.now());
  }

  /** Conversations remembered now, expired ones not yet swept included. */
  get size(): number {
    return this.#entries.size;
  }

  /** Where `conversation` has been going, renewing its lease; `undefined` when unknown or expired. */
  get(conversation: string): AffinityTarget<K> | undefined {
    const target = this.#live(conversation);
    if (target) {
      this.#entries.delete(conversation);
      this.#remember(conversation, target);
    }
    return target;
  }

  /** Pins `conversation` to `target`, replacing any earlier pin. */
  set(conversation: string, target: AffinityTarget<K>): void {
    this.#entries.delete(conversation);
    this.#remember(conversation, target);
    for (const [oldest] of this.#entries) {
      if (this.#entries.size <= this.#maxEntries) break;
      this.#entries.delete(oldest);
    }
  }

  /**
   * Pins `conversation` to `target` unless another request pinned it since `seen` (the pin the request
   * was planned with): of two requests of one conversation planned together (Claude Code's title call
   * beside a turn), the first answered pins it, and the other does not move the conversation away.
   */
  move(conversation: string, seen: AffinityTarget<K> | undefined, target: AffinityTarget<K>): void {
    const current = this.#live(conversation);
    if (current && (current.provider !== seen?.provider || current.key !== seen.key)) return;
    this.set(conversation, target);
  }

  /** Where `conversation` is pinned while its lease holds; an expired pin is dropped on sight. */
  #live(conversation: string): AffinityTarget<K> | undefined {
    const entry = this.#entries.get(conversation);
    if (!entry) return undefined;
    if (entry.expiresAt > this.#now()) return entry.target;
    this.#entries.delete(conversation);
    return undefined;
  }

  #remember(conversation: string, target: AffinityTarget<K>): void {
    this.#entries.set(conversation, { target, expiresAt: this.#now() + this.#ttlMs });
  }
}

// Enough of the system prompt to tell clients and conversations apart (Claude Code's first block is
// its attribution line), short enough to stop before anything that may change between turns.
const _SYSTEM_PREFIX_CHARS = 1024;

// Enough of the first user message to tell conversations apart, and a bound on the work: the whole of
// a 400 KB prompt took 0.3 ms to hash on every request's path to its first byte (relay bench).
const _FIRST_MESSAGE_CHARS = 8 * 1024;

/** Longest key kept as it is; a longer one is hashed, so no entry holds more than this. */
const _MAX_PLAIN_KEY_CHARS = 200;

/**
 * What identifies the conversation a request belongs to, at most 200 characters; `undefined` when
 * nothing does (no session header and no user message), and such requests are not pinned.
 *
 * - Claude Code sends `x-claude-code-session-id`; with `x-claude-code-agent-id` a subagent's requests
 *   are a conversation of their own, since they build a different context.
 * - Otherwise: the system prompt's first 1024 characters and the first 8192 characters of the text of
 *   the first user message, both of which every later turn repeats unchanged. Only text counts:
 *   `cache_control` marks move from turn to turn, and two conversations opening with the same words
 *   and system prompt share a pin, which costs nothing but spread.
 *
 * @param body the parsed request body.
 *
 * @example
 * ```ts
 * conversationKey(new Headers({ "x-claude-code-session-id": "5f0c..." }), body); // "kT1c..."
 * conversationKey(new Headers(), { messages: [{ role: "user", content: "hi" }] }); // "a9Xq..."
 * conversationKey(new Headers(), {}); // undefined
 * ```
 */
export function conversationKey(headers: Headers, body: unknown): string | undefined {
  const session = headers.get("x-claude-code-session-id");
  if (session) {
    // A session id is already short (Claude Code's are UUIDs) and unique: hashing it would only cost
    // time on every request's path to its first byte.
    const key = JSON.stringify(["session", session, headers.get("x-claude-code-agent-id") ?? ""]);
    return key.length <= _MAX_PLAIN_KEY_CHARS ? key : _hash(key);
  }
  if (typeof body !== "object" || body === null) return undefined;
  const { system, messages } = body as { system?: unknown; messages?: unknown };
  const first = Array.isArray(messages)
    ? messages.find((message) => (message as { role?: unknown } | null)?.role === "user")
    : undefined;
  if (first === undefined) return undefined;
  // JSON keeps the parts apart, so ("ab", "c") and ("a", "bc") differ.
  return _hash(
    JSON.stringify([
      "opening",
      _text(system, _SYSTEM_PREFIX_CHARS),
      _text(first.content, _FIRST_MESSAGE_CHARS),
    ]),
  );
}

/**
 * The first `max` characters of the text of a `system` or `content` value: a string, or the `text` of
 * its text blocks joined by line breaks. Blocks past `max` are not read: a long prompt costs no more.
 */
function _text(content: unknown, max: number): string {
  if (typeof content === "string") return content.slice(0, max);
  if (!Array.isArray(content)) return "";
  let text = "";
  for (const [index, block] of content.entries()) {
    if (index > 0) text += "\n";
    if (typeof block?.text === "string") text += block.text;
    if (text.length >= max) break;
  }
  return text.slice(0, max);
}

/** 32 characters, never a JSON array like the plain keys. */
function _hash(text: string): string {
  return createHash("sha256").update(text).digest("base64url").slice(0, 32);
}
