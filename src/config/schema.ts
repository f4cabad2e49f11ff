import { z } from "zod";
import { type MockOptions, mockOptionsSchema } from "../providers/mock_options.ts";
import { byteSizeSchema, durationSchema } from "./units.ts";

/** The upstream kinds relay can relay to. */
export const PROVIDER_TYPES = ["anthropic", "anthropic-compatible", "mock"] as const;
export type ProviderType = typeof PROVIDER_TYPES[number];

export const DEFAULT_ANTHROPIC_BASE_URL = "https://api.anthropic.com";

/** Milliseconds, as every timeout is once parsed. */
export interface Timeouts {
  /** Until response headers on a streamed request. */
  connect: number;
  /** Until the first body byte. */
  first_byte: number;
  /** Longest silence between two chunks of a stream. */
  idle: number;
}

export const DEFAULT_TIMEOUTS: Readonly<Timeouts> = { connect: 10_000, first_byte: 600_000, idle: 300_000 };

/** An upstream API key, with an optional label for logs (the key itself is only ever logged masked). */
export interface KeyConfig {
  key: string;
  name?: string;
}

interface _ProviderCommon {
  name: string;
  auth_header: "x-api-key" | "bearer";
  keys: KeyConfig[];
  /** Only the fields this provider overrides; see {@linkcode providerTimeouts}. */
  timeouts: Partial<Timeouts>;
}

/** A provider reached over HTTP: Anthropic itself or a gateway speaking its wire format. */
export interface UpstreamProviderConfig extends _ProviderCommon {
  type: "anthropic" | "anthropic-compatible";
  base_url: string;
}

/** The built-in mock: canned streams, no upstream. */
export interface MockProviderConfig extends _ProviderCommon {
  type: "mock";
  mock: MockOptions;
}

export type ProviderConfig = UpstreamProviderConfig | MockProviderConfig;

const _NAME = /^[a-z0-9][a-z0-9_-]*$/i;

const _keySchema = z.strictObject({
  key: z.string().min(1, { error: "must not be empty" }),
  name: z.string().min(1, { error: "must not be empty (leave `name` out instead)" }).optional(),
});

const _baseUrlSchema = z.string().superRefine((value, ctx) => {
  const problem = _baseUrlProblem(value);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

const _providerSchema = z.strictObject({
  name: z.string().regex(_NAME, {
    error: "must start with a letter or digit and hold only letters, digits, `_` and `-`",
  }),
  type: z.enum(PROVIDER_TYPES),
  base_url: _baseUrlSchema.optional(),
  auth_header: z.enum(["x-api-key", "bearer"]).default("x-api-key"),
  keys: z.array(_keySchema).optional(),
  timeouts: z.strictObject({
    connect: durationSchema.optional(),
    first_byte: durationSchema.optional(),
    idle: durationSchema.optional(),
  }).default({}),
  mock: mockOptionsSchema.optional(),
})
  .superRefine((provider, ctx) => {
    const add = (field: string, message: string) => ctx.addIssue({ code: "custom", path: [field], message });
    if (provider.type === "mock") {
      if (provider.base_url !== undefined) {
        add("base_url", "a mock provider has no upstream: remove base_url");
      }
      return;
    }
    if (provider.type === "anthropic-compatible" && provider.base_url === undefined) {
      add("base_url", "an anthropic-compatible provider needs base_url, e.g. https://api.z.ai/api/anthropic");
    }
    if (provider.mock !== undefined) {
      add("mock", `mock options only apply to a provider of type mock, not ${provider.type}`);
    }
    if (!provider.keys?.length) {
      add("keys", `a provider of type ${provider.type} needs at least one key (keys: [{ key: ... }])`);
    }
  })
  .transform((provider): ProviderConfig => {
    const common = {
      name: provider.name,
      auth_header: provider.auth_header,
      keys: provider.keys ?? [],
      timeouts: provider.timeouts,
    };
    if (provider.type === "mock") {
      return { ...common, type: "mock", mock: provider.mock ?? mockOptionsSchema.parse({}) };
    }
    return { ...common, type: provider.type, base_url: provider.base_url ?? DEFAULT_ANTHROPIC_BASE_URL };
  });

const _serverSchema = z.strictObject({
  host: z.string().min(1, { error: "must not be empty (127.0.0.1 keeps relay local)" }).default("127.0.0.1"),
  port: z.number().int().min(0, { error: "must be from 0 to 65535 (0 picks any free port)" })
    .max(65535, { error: "must be from 0 to 65535 (0 picks any free port)" }).default(8787),
  auth: z.strictObject({
    tokens: z.array(z.string().min(8, { error: "must be at least 8 characters: short tokens are guessable" }))
      .default([]),
  }).prefault({}),
  max_body_size: byteSizeSchema.default(33_554_432),
  shutdown_grace: durationSchema.default(30_000),
}).superRefine((server, ctx) => {
  if (isLoopbackHost(server.host) || server.auth.tokens.length > 0) return;
  ctx.addIssue({
    code: "custom",
    path: ["auth", "tokens"],
    message:
      `binding ${server.host} requires server.auth.tokens: without them anyone who can reach it spends your keys`,
  });
});

/**
 * The whole config file. Unknown keys anywhere are errors, so a typo never silently falls back to a
 * default. Cross-field rules sit on the smallest object that holds both fields, so their issues carry the
 * right path and are reported alongside unrelated ones.
 *
 * @example
 * ```ts
 * const config = configSchema.parse({ providers: [{ name: "mock", type: "mock" }] });
 * config.server.port; // 8787
 * ```
 */
export const configSchema = z.strictObject({
  server: _serverSchema.prefault({}),
  timeouts: z.strictObject({
    connect: durationSchema.default(DEFAULT_TIMEOUTS.connect),
    first_byte: durationSchema.default(DEFAULT_TIMEOUTS.first_byte),
    idle: durationSchema.default(DEFAULT_TIMEOUTS.idle),
  }).prefault({}),
  log: z.strictObject({
    level: z.enum(["debug", "info", "warn", "error"]).default("info"),
    bodies: z.boolean().default(false),
  }).prefault({}),
  providers: z.array(_providerSchema).min(1, { error: "at least one provider is required" })
    .superRefine((providers, ctx) => {
      const seen = new Map<string, number>();
      providers.forEach((provider, index) => {
        const first = seen.get(provider.name);
        if (first === undefined) seen.set(provider.name, index);
        else {
          ctx.addIssue({
            code: "custom",
            path: [index, "name"],
            message: `duplicate provider name \`${provider.name}\` (also providers[${first}].name)`,
          });
        }
      });
    }),
});

export type Config = z.output<typeof configSchema>;

/**
 * The timeouts one provider runs with: its own overrides over the global `timeouts`.
 *
 * @example
 * ```ts
 * providerTimeouts(config, config.providers[0]); // { connect: 10000, first_byte: 600000, idle: 300000 }
 * ```
 */
export function providerTimeouts(
  config: Pick<Config, "timeouts">,
  provider: Pick<ProviderConfig, "timeouts">,
): Timeouts {
  return {
    connect: provider.timeouts.connect ?? config.timeouts.connect,
    first_byte: provider.timeouts.first_byte ?? config.timeouts.first_byte,
    idle: provider.timeouts.idle ?? config.timeouts.idle,
  };
}

/**
 * Whether binding `host` keeps relay reachable from this machine only: `localhost`, `127.0.0.0/8` or
 * `::1`. Anything else needs `server.auth.tokens`.
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.toLowerCase().replace(/^\[(.*)\]$/, "$1");
  if (bare === "localhost" || bare === "::1") return true;
  const octets = bare.split(".");
  return octets.length === 4 && octets[0] === "127" &&
    octets.every((octet) => /^\d{1,3}$/.test(octet) && Number(octet) <= 255);
}

// Relay appends the request path and query to base_url, so anything after the path would corrupt the
// upstream URL, and credentials belong in `keys`, where they are masked.
function _baseUrlProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `expected an http(s) URL like https://api.anthropic.com, found "${value}"`;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return `must be an http or https URL, not ${url.protocol.slice(0, -1)}`;
  }
  if (url.username || url.password) return "must not contain credentials: put the key under keys";
  if (url.search || url.hash || value.includes("?") || value.includes("#")) {
    return "must not have a query or fragment: relay appends the request path to it";
  }
  return undefined;
}
