/**
 * What relay knows of `anthropic-beta` values on clouds that serve Claude (Bedrock, Vertex AI): which
 * features are Anthropic's own API's alone, and which values an upstream refused. Claude Code believes it
 * talks to Anthropic and sends its first-party beta list, which changes every release, and a cloud
 * refuses a whole request for one value it does not know, with a 400 that is not retried.
 */
import { asJsonObject } from "../util/json.ts";
import { BoundedMap } from "./bounded_map.ts";
import type { JsonEdit } from "./json_edit.ts";

/**
 * Betas for features only Anthropic's own API has: claude.ai OAuth, the Files API, the MCP connector,
 * server-side code execution, web fetch, skills, fast mode and cache scopes. Bedrock answers them
 * `400 invalid beta flag` and Vertex `400 Unexpected value(s) … for the anthropic-beta header`, so they
 * are dropped for both (LiteLLM's per-provider table, `anthropic_beta_headers_config.json`, has each of
 * them unsupported on both; claude-code#21625 and new-api#2975 show Vertex refusing the cache scope). A
 * denylist rather than an allowlist, because Claude Code adds betas every release and the clouds keep
 * adopting them (protocols.md §1.2). Which betas a given model takes changes over time, so this is a
 * judgment call, not a contract; Vertex's refusals of others are learned as they come (`RefusedBetas`).
 */
export const FIRST_PARTY_ONLY_BETAS: ReadonlySet<string> = new Set([
  "oauth-2025-04-20",
  "files-api-2025-04-14",
  "mcp-client-2025-04-04",
  "mcp-client-2025-11-20",
  "mcp-servers-2025-12-04",
  "code-execution-2025-05-22",
  "code-execution-2025-08-25",
  "web-fetch-2025-09-10",
  "skills-2025-10-02",
  "fast-mode-2026-02-01",
  "prompt-caching-scope-2026-01-05",
]);

/** A body field only a beta makes known: top-level `member`, or `within` it when given. */
export interface BetaField {
  beta: string;
  member: string;
  within?: string;
}

/**
 * The body fields Claude Code sends with a beta of theirs. Bedrock and Vertex refuse one whose beta did
 * not come, by name (`context_management: Extra inputs are not permitted`, sub2api#2726,
 * claude-code-action#1005), so a request relay sends without such a beta goes without its field too
 * (protocols.md §3.2: fields a cloud does not know go together with their beta values).
 */
export const BETA_FIELDS: readonly BetaField[] = [
  { beta: "context-management-2025-06-27", member: "context_management" },
  { beta: "effort-2025-11-24", member: "output_config", within: "effort" },
];

/**
 * Those of {@linkcode BETA_FIELDS} whose beta is one of `betas`.
 *
 * @example
 * ```ts
 * fieldsOf(["claude-code-20250219", "context-management-2025-06-27"]); // [{ beta: "context-management-…", member: "context_management" }]
 * ```
 */
export function fieldsOf(betas: Iterable<string>): BetaField[] {
  const of = new Set(betas);
  return BETA_FIELDS.filter(({ beta }) => of.has(beta));
}

/**
 * Those of `fields` a body holds, as `read` gives its top-level members' values (`undefined` for one it
 * has not), as `editTopLevelJson`'s `update` gives it.
 */
export function carriedFields(
  fields: readonly BetaField[],
  read: (member: string) => unknown,
): BetaField[] {
  return fields.filter(({ member, within }) => {
    const value = read(member);
    return within === undefined ? value !== undefined : Object.hasOwn(asJsonObject(value) ?? {}, within);
  });
}

/**
 * The edit (`editTopLevelJson`'s `remove` and `removeWithin`) that takes `fields` out of a
 * body: a top-level one whole, one within a member alone, the member whole when nothing else is in it.
 */
export function withoutFields(
  fields: readonly BetaField[],
): Required<Pick<JsonEdit, "remove" | "removeWithin">> {
  const remove: string[] = [];
  const removeWithin: Record<string, string[]> = {};
  for (const { member, within } of fields) {
    if (within === undefined) remove.push(member);
    else (removeWithin[member] ??= []).push(within);
  }
  return { remove, removeWithin };
}

/**
 * Whether an error refuses one of `fields` by name, as pydantic words an unknown field for Bedrock and
 * Vertex: `output_config.effort: Extra inputs are not permitted`.
 */
export function refusesField(message: string, fields: readonly BetaField[]): boolean {
  return fields.some(({ member, within }) =>
    message.includes(
      `${within === undefined ? member : `${member}.${within}`}: Extra inputs are not permitted`,
    )
  );
}

/**
 * The betas a header (comma-separated) or a body (an array) gives; anything else gives none.
 *
 * @example
 * ```ts
 * betaList("a, b"); // ["a", " b"]
 * betaList(["a", 1]); // ["a"]
 * ```
 */
export function betaList(given: unknown): string[] {
  if (typeof given === "string") return given.split(",");
  return Array.isArray(given) ? given.filter((beta) => typeof beta === "string") : [];
}

/**
 * `betas` as a platform other than Anthropic's own API takes them: trimmed, each once, in order, without
 * empty ones, the {@linkcode FIRST_PARTY_ONLY_BETAS} and those `alsoDropped` names.
 *
 * @example
 * ```ts
 * keptBetas(["a", " b", "a", "", "oauth-2025-04-20"]); // ["a", "b"]
 * ```
 */
export function keptBetas(betas: readonly string[], alsoDropped?: (beta: string) => boolean): string[] {
  const kept = new Set<string>();
  for (const given of betas) {
    const beta = given.trim();
    if (beta !== "" && !FIRST_PARTY_ONLY_BETAS.has(beta) && !alsoDropped?.(beta)) kept.add(beta);
  }
  return [...kept];
}

/**
 * The values an error text names as unexpected in the `anthropic-beta` header, as Vertex AI words it:
 * ``Unexpected value(s) `a`, `b` for the `anthropic-beta` header. Please consult our documentation at
 * docs.anthropic.com or try again without the header.`` (quoted in claude-agent-sdk-typescript#307,
 * LiteLLM PR #39597, new-api#2975; newer ones point at platform.claude.com/docs). Values quoted with
 * double quotes, escaped or not, count too. None when the text says nothing of the kind.
 *
 * @example
 * ```ts
 * unexpectedBetas('{"message":"Unexpected value(s) `x`, `y` for the `anthropic-beta` header."}'); // ["x", "y"]
 * ```
 */
export function unexpectedBetas(errorText: string): string[] {
  const listed = /Unexpected value\(s\) (.{1,4000}?) for the \\?[`"']?anthropic-beta\\?[`"']? header/i.exec(
    errorText,
  );
  if (!listed) return [];
  return [...listed[1].replaceAll('\\"', '"').matchAll(/[`"]([^`"]+)[`"]/g)].map(([, value]) => value.trim());
}

/** How many (model, beta) refusals one provider remembers; the oldest is forgotten past it. */
const _MAX_REMEMBERED = 256;

/** A beta name longer than this is dropped for the request it came with but not remembered. */
const _MAX_REMEMBERED_LENGTH = 128;

/**
 * The betas an upstream refused, per model: Vertex's models take up new betas on their own schedules
 * (Haiku lags, anthropic-sdk-typescript#1016), so one model's refusal says nothing of another's. Bounded,
 * as the values come from clients: past {@linkcode _MAX_REMEMBERED} the oldest is forgotten, and learned
 * again, with one more round trip, if it is still refused. One per provider, so a reload, which builds
 * providers anew, forgets them all: a model that has since taken up a beta gets it again.
 *
 * @example
 * ```ts
 * const refused = new RefusedBetas();
 * refused.learn("claude-haiku-4-5@20251001", ["effort-2025-11-24"]); // ["effort-2025-11-24"]
 * refused.has("claude-haiku-4-5@20251001", "effort-2025-11-24"); // true
 * refused.has("claude-opus-4-5@20251101", "effort-2025-11-24"); // false
 * ```
 */
export class RefusedBetas {
  readonly #remembered: BoundedMap<string, true>;

  constructor(max = _MAX_REMEMBERED) {
    this.#remembered = new BoundedMap(max);
  }

  /** Whether `model` refused `beta`. Costs nothing while nothing was refused. */
  has(model: string, beta: string): boolean {
    return this.#remembered.size > 0 && this.#remembered.has(_key(model, beta));
  }

  /** Remembers that `model` refused `betas`; returns those it did not know yet, to be told once. */
  learn(model: string, betas: readonly string[]): string[] {
    const learned: string[] = [];
    for (const beta of betas) {
      const key = _key(model, beta);
      if (beta.length > _MAX_REMEMBERED_LENGTH || this.#remembered.has(key)) continue;
      this.#remembered.set(key, true);
      learned.push(beta);
    }
    return learned;
  }
}

function _key(model: string, beta: string): string {
  return `${model}\n${beta}`;
}
