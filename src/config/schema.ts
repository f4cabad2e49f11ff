import { z } from "zod";
import { type MockOptions, mockOptionsSchema } from "../providers/mock_options.ts";
import type { KeyLimits } from "../routing/key_pool.ts";
import { modelMapProblems } from "../routing/model_map.ts";
import { STRATEGY_NAMES } from "../routing/strategies/types.ts";
import { DEFAULT_KEEPALIVE_MS } from "../stream/keep_alive.ts";
import { BLOCKED_PORT_PROBLEM, isBlockedPort, isFetchBlockedPort } from "./blocked_ports.ts";
import { type ClientConfig, namedClients } from "./clients.ts";
import { formatByteSize, formatDuration } from "./format_units.ts";
import { byteSizeSchema, durationSchema } from "./units.ts";
import { withoutBrackets, withoutFinalDot } from "../util/host_name.ts";
import { maskKeyShapedTokens, maskSecret } from "../util/mask.ts";

/** The upstream kinds relay can relay to. */
export const PROVIDER_TYPES = [
  "anthropic",
  "anthropic-compatible",
  "zai",
  "ollama",
  "bedrock",
  "vertex",
  "azure",
  "openai",
  "mock",
] as const;
export type ProviderType = typeof PROVIDER_TYPES[number];

export const DEFAULT_ANTHROPIC_BASE_URL = "https://api.anthropic.com";

/**
 * Upstreams relay knows: where they live and how they take a key. A type missing here
 * (`anthropic-compatible`) has no default and needs `base_url`.
 */
const _KNOWN_UPSTREAMS: Partial<
  Record<ProviderType, { base_url: string; auth_header: "x-api-key" | "bearer" }>
> = {
  anthropic: { base_url: DEFAULT_ANTHROPIC_BASE_URL, auth_header: "x-api-key" },
  // Z.AI's own Claude Code setup sends the key as ANTHROPIC_AUTH_TOKEN, i.e. a bearer token.
  zai: { base_url: "https://api.z.ai/api/anthropic", auth_header: "bearer" },
  // Ollama (>= 0.14) serves the Messages API at its root; a local one ignores keys.
  ollama: { base_url: "http://127.0.0.1:11434", auth_header: "bearer" },
  // Chat Completions; like OpenAI's SDKs, base_url includes the version path.
  openai: { base_url: "https://api.openai.com/v1", auth_header: "bearer" },
};

/** Fields that only some provider types take; any other type naming them is refused. */
const _FIELDS_FOR: Record<string, readonly ProviderType[]> = {
  auth_header: ["anthropic", "anthropic-compatible", "zai", "ollama"],
  region: ["bedrock", "vertex"],
  aws: ["bedrock"],
  project: ["vertex"],
  credentials_file: ["vertex"],
  token_url: ["vertex"],
  entra: ["azure"],
  mock: ["mock"],
};

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
export interface KeyConfig extends KeyLimits {
  key: string;
  name?: string;
}

/** USD per million tokens, for the `cost` strategy. */
export interface PriceConfig {
  input: number;
  output: number;
}

interface _ProviderCommon {
  name: string;
  keys: KeyConfig[];
  /** Only the fields this provider overrides; see {@linkcode providerTimeouts}. */
  timeouts: Partial<Timeouts>;
  /**
   * The models this provider serves, client name (or glob) -> upstream id; `undefined` serves every
   * model under its own name. See `src/routing/model_map.ts`.
   */
  models?: Record<string, string>;
  /** Most requests in flight to this provider at once; unlimited when left out. */
  max_in_flight?: number;
  /** Price per client model name, for the `cost` strategy. */
  prices?: Record<string, PriceConfig>;
}

/** A provider reached over HTTP in Anthropic's wire format: Anthropic itself, Z.AI, Ollama, a gateway. */
export interface UpstreamProviderConfig extends _ProviderCommon {
  type: "anthropic" | "anthropic-compatible" | "zai" | "ollama";
  base_url: string;
  auth_header: "x-api-key" | "bearer";
}

/**
 * An OpenAI-compatible upstream (OpenAI, LM Studio, vLLM, llama.cpp, Groq, OpenRouter, Ollama's `/v1`),
 * reached through the Chat Completions translation. Keys go as bearer tokens; local servers need none.
 */
export interface OpenAIProviderConfig extends _ProviderCommon {
  type: "openai";
  /** The API root with its version path, e.g. `https://api.openai.com/v1`. */
  base_url: string;
  /** Always bearer: every OpenAI-compatible server takes the key that way. */
  auth_header: "bearer";
}

/** AWS credentials given in the file; with none, the environment and `~/.aws/credentials` are asked. */
export interface AwsConfig {
  access_key_id?: string;
  secret_access_key?: string;
  session_token?: string;
  profile?: string;
}

/** Amazon Bedrock: SigV4 with AWS credentials, or Bedrock API keys under `keys`. */
export interface BedrockProviderConfig extends _ProviderCommon {
  type: "bedrock";
  region: string;
  base_url?: string;
  aws?: AwsConfig;
}

/** Google Vertex AI: OAuth tokens from a service account. */
export interface VertexProviderConfig extends _ProviderCommon {
  type: "vertex";
  project: string;
  region: string;
  base_url?: string;
  /**
   * A service-account JSON file; `$GOOGLE_APPLICATION_CREDENTIALS` when left out. Loading the file reads
   * a relative path from its folder, `~/` from the home folder (see load.ts).
   */
  credentials_file?: string;
  /** Overrides the token endpoint the credentials file names. */
  token_url?: string;
}

/** Entra ID client credentials for Azure, instead of keys. */
export interface EntraConfig {
  tenant_id: string;
  client_id: string;
  client_secret: string;
  scope?: string;
  token_url?: string;
}

/** Microsoft Foundry's Anthropic endpoint: keys as `x-api-key`, or Entra ID bearer tokens. */
export interface AzureProviderConfig extends _ProviderCommon {
  type: "azure";
  base_url: string;
  entra?: EntraConfig;
}

/** The built-in mock: canned streams, no upstream. */
export interface MockProviderConfig extends _ProviderCommon {
  type: "mock";
  mock: MockOptions;
}

export type ProviderConfig =
  | UpstreamProviderConfig
  | OpenAIProviderConfig
  | BedrockProviderConfig
  | VertexProviderConfig
  | AzureProviderConfig
  | MockProviderConfig;

const _NAME = /^[a-z0-9][a-z0-9_-]*$/i;

const _perMinute = z.number().int().positive({ error: "must be a whole number above 0 (per minute)" });

/**
 * A secret relay puts in an HTTP header (an upstream key, an AWS credential) or compares with one a
 * client sends (a client or admin token). Headers carry printable ASCII only and lose spaces at the
 * ends, and fetch refuses a bad value only when the request is made, so it is refused here instead,
 * by position: the value itself is never echoed.
 */
const _headerSecret = z.string().superRefine((value, ctx) => {
  const problem = headerValueProblem(value);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

const _keySchema = z.strictObject({
  key: _headerSecret.min(1, { error: "must not be empty" }),
  name: z.string().min(1, { error: "must not be empty (leave `name` out instead)" }).optional(),
  rpm: _perMinute.optional(),
  tpm: _perMinute.optional(),
  input_tpm: _perMinute.optional(),
  output_tpm: _perMinute.optional(),
});

/**
 * One entry per key: a key listed twice would have each entry's limits counted apart (twice its `rpm`
 * sent to it), and a name given twice could not say which key the admin API means.
 */
function _uniqueKeys(keys: z.infer<typeof _keySchema>[], ctx: z.RefinementCtx): void {
  const secrets = new Map<string, number>();
  const names = new Map<string, number>();
  keys.forEach(({ key, name }, index) => {
    const sameKey = secrets.get(key);
    if (sameKey !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: [index, "key"],
        message: `the same key as keys[${sameKey}]: list each key once, or its limits are counted apart`,
      });
    }
    const sameName = name === undefined ? undefined : names.get(name);
    if (sameName !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: [index, "name"],
        message: `duplicate key name \`${name}\` (also keys[${sameName}].name)`,
      });
    }
    if (sameKey === undefined) secrets.set(key, index);
    if (name !== undefined && sameName === undefined) names.set(name, index);
  });
}

const _baseUrlSchema = z.string().superRefine((value, ctx) => {
  const problem = _baseUrlProblem(value);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

const _required = (what: string) => z.string().min(1, { error: `must not be empty: ${what}` });

/**
 * Bedrock and Vertex put the region into their host names (`bedrock-runtime.{region}.amazonaws.com`,
 * `{region}-aiplatform.googleapis.com`): a `/`, `#`, `:` or `.` there could send the request, and
 * relay's credential with it, to another host.
 */
const _REGION = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

const _providerSchema = z.strictObject({
  name: z.string().regex(_NAME, {
    error: "must start with a letter or digit and hold only letters, digits, `_` and `-`",
  }),
  type: z.enum(PROVIDER_TYPES),
  base_url: _baseUrlSchema.optional(),
  auth_header: z.enum(["x-api-key", "bearer"]).optional(),
  keys: z.array(_keySchema).superRefine(_uniqueKeys).optional(),
  models: z.record(z.string().min(1), _required("the upstream's model id"))
    .refine((models) => Object.keys(models).length > 0, {
      error: "an empty `models:` serves no model: leave it out to serve every model under its own name, " +
        "or list the models",
    }).optional(),
  timeouts: z.strictObject({
    connect: durationSchema.optional(),
    first_byte: durationSchema.optional(),
    idle: durationSchema.optional(),
  }).default({}),
  region: z.string().regex(_REGION, {
    error: (issue) =>
      `must be a region name such as us-east-1, us-east5 or global (lowercase letters, digits and \`-\`), ` +
      `found ${JSON.stringify(issue.input)}`,
  }).optional(),
  aws: z.strictObject({
    access_key_id: _headerSecret.min(1, { error: "must not be empty: AWS access key id" }).optional(),
    secret_access_key: _required("AWS secret access key").optional(),
    session_token: _headerSecret.min(1, { error: "must not be empty: AWS session token" }).optional(),
    profile: _required("a profile in ~/.aws/credentials").optional(),
  }).optional(),
  project: _required("the Google Cloud project id").optional(),
  credentials_file: _required("path to a service-account JSON file").optional(),
  token_url: _baseUrlSchema.optional(),
  entra: z.strictObject({
    tenant_id: _required("the Entra tenant id"),
    client_id: _required("the app's client id"),
    client_secret: _required("the app's client secret"),
    scope: _required("e.g. https://ai.azure.com/.default").optional(),
    token_url: _baseUrlSchema.optional(),
  }).optional(),
  mock: mockOptionsSchema.optional(),
  max_in_flight: z.number().int().positive().optional(),
  prices: z.record(
    z.string().min(1),
    z.strictObject({ input: z.number().nonnegative(), output: z.number().nonnegative() }),
  ).optional(),
})
  .superRefine((provider, ctx) => {
    const add = (field: string, message: string) => ctx.addIssue({ code: "custom", path: [field], message });
    for (const [field, types] of Object.entries(_FIELDS_FOR)) {
      if (provider[field as keyof typeof provider] !== undefined && !types.includes(provider.type)) {
        add(field, `\`${field}\` applies to providers of type ${types.join(" or ")}, not ${provider.type}`);
      }
    }
    for (const problem of modelMapProblems(provider.models ?? {})) add("models", problem);
    const needs = (field: "base_url" | "region" | "project", example: string) => {
      if (provider[field] === undefined) {
        add(field, `${_article(provider.type)} ${provider.type} provider needs ${field}, e.g. ${example}`);
      }
    };
    switch (provider.type) {
      case "mock":
        if (provider.base_url !== undefined) {
          add("base_url", "a mock provider has no upstream: remove base_url");
        }
        return;
      case "anthropic-compatible":
        needs("base_url", "https://api.z.ai/api/anthropic");
        break;
      case "bedrock":
        needs("region", "us-east-1");
        if (provider.aws && provider.keys?.length) {
          add("aws", "use keys (Bedrock API keys) or aws (SigV4 credentials), not both");
        }
        return;
      case "vertex":
        needs("project", "my-project");
        needs("region", "us-east5 or global");
        if (provider.keys?.length) add("keys", "vertex authenticates with credentials_file, not keys");
        return;
      case "azure":
        needs("base_url", "https://my-resource.services.ai.azure.com/anthropic");
        if (provider.entra && provider.keys?.length) add("entra", "use keys or entra, not both");
        if (!provider.entra && !provider.keys?.length) {
          add("keys", "an azure provider needs keys (sent as x-api-key) or an entra block");
        }
        return;
      case "ollama":
      case "openai":
        return;
    }
    if (!provider.keys?.length) {
      add("keys", `a provider of type ${provider.type} needs at least one key (keys: [{ key: ... }])`);
    }
  })
  .transform((provider): ProviderConfig => {
    const common = {
      name: provider.name,
      keys: provider.keys ?? [],
      timeouts: provider.timeouts,
      ...(provider.models ? { models: provider.models } : {}),
      ...(provider.max_in_flight ? { max_in_flight: provider.max_in_flight } : {}),
      ...(provider.prices ? { prices: provider.prices } : {}),
    };
    switch (provider.type) {
      case "mock":
        return { ...common, type: "mock", mock: provider.mock ?? mockOptionsSchema.parse({}) };
      case "bedrock":
        return {
          ...common,
          type: "bedrock",
          region: provider.region!,
          base_url: provider.base_url,
          aws: provider.aws,
        };
      case "vertex":
        return {
          ...common,
          type: "vertex",
          project: provider.project!,
          region: provider.region!,
          base_url: provider.base_url,
          credentials_file: provider.credentials_file,
          token_url: provider.token_url,
        };
      case "azure":
        return { ...common, type: "azure", base_url: provider.base_url!, entra: provider.entra };
      case "openai":
        return {
          ...common,
          type: "openai",
          base_url: provider.base_url ?? _KNOWN_UPSTREAMS.openai!.base_url,
          auth_header: "bearer",
        };
    }
    const known = _KNOWN_UPSTREAMS[provider.type];
    return {
      ...common,
      type: provider.type,
      base_url: provider.base_url ?? known!.base_url,
      auth_header: provider.auth_header ?? known?.auth_header ?? "x-api-key",
    };
  });

/** `server.auth` once parsed. */
export interface ClientAuth {
  /** Every client's token, named or not. */
  tokens: string[];
  /**
   * The clients, bare tokens named `client-1`, `client-2`, ... by their place; always set by the
   * schema, left out by configs built in code (read it through `namedClients(tokens)` then).
   */
  clients?: ClientConfig[];
}

const _clientToken = _headerSecret.min(8, {
  error: "must be at least 8 characters: short tokens are guessable",
});

/** A named client token with its limits; a bare string in the list is a client without limits. */
const _clientSchema = z.strictObject({
  name: z.string().regex(_NAME, {
    error: "must start with a letter or digit and hold only letters, digits, `_` and `-`",
  }),
  token: _clientToken,
  rpm: _perMinute.optional(),
  tpm: _perMinute.optional(),
  models: z.array(z.string().min(1)).min(1, { error: "must name a model (leave models out to allow any)" })
    .optional(),
  monthly_budget_usd: z.number().positive({ error: "must be above 0 (leave it out for no budget)" })
    .optional(),
});

function _uniqueClients(tokens: (string | ClientConfig)[], ctx: z.RefinementCtx): void {
  const names = new Map<string, number>();
  const secrets = new Map<string, number>();
  namedClients(tokens).forEach((client, index) => {
    const sameName = names.get(client.name);
    const sameToken = secrets.get(client.token);
    const path = typeof tokens[index] === "string" ? [index] : [index, "name"];
    if (sameName !== undefined) {
      ctx.addIssue({
        code: "custom",
        path,
        message: `duplicate client name \`${client.name}\` (also tokens[${sameName}])`,
      });
    }
    if (sameToken !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: typeof tokens[index] === "string" ? [index] : [index, "token"],
        message: `the same token as tokens[${sameToken}]: each client needs its own`,
      });
    }
    names.set(client.name, names.get(client.name) ?? index);
    secrets.set(client.token, secrets.get(client.token) ?? index);
  });
}

const _usdPerMTok = z.number().nonnegative({ error: "must be 0 or more (USD per million tokens)" });

/** A model's token prices in `pricing:`; cache prices left out follow `input` (`src/ledger/pricing.ts`). */
const _tokenPrices = z.strictObject({
  input: _usdPerMTok,
  output: _usdPerMTok,
  cache_write: _usdPerMTok.optional(),
  cache_write_1h: _usdPerMTok.optional(),
  cache_read: _usdPerMTok.optional(),
});

const _DEFAULT_MAX_BODY_MEMORY = 268_435_456;

const _serverSchema = z.strictObject({
  host: z.string().min(1, { error: "must not be empty (127.0.0.1 keeps relay local)" }).refine(_isHostName, {
    error: "is neither an IP address nor a host name (e.g. 127.0.0.1, 0.0.0.0, ::1, localhost)",
  }).default("127.0.0.1"),
  port: z.number().int().min(0, { error: "must be from 0 to 65535 (0 picks any free port)" })
    .max(65535, { error: "must be from 0 to 65535 (0 picks any free port)" })
    .refine((port) => port === 0 || !isBlockedPort(port), { error: BLOCKED_PORT_PROBLEM }).default(8787),
  /** Names besides loopback ones a loopback relay answers to (`src/server/host_guard.ts`). */
  allowed_hosts: z.array(
    // A final dot names the same host (`relay.internal.`), as the guard reads a Host.
    z.string().transform(withoutFinalDot).refine(_isHostName, {
      error: "must be a host name or IP address alone, without scheme, port or path (e.g. relay.internal)",
    }),
  ).default([]),
  auth: z.strictObject({
    tokens: z.array(z.union([_clientToken, _clientSchema])).default([]).superRefine(_uniqueClients),
  }).prefault({}).transform(({ tokens }): ClientAuth => {
    const clients = namedClients(tokens);
    return { tokens: clients.map((client) => client.token), clients };
  }),
  admin: z.strictObject({
    token: _headerSecret.min(16, {
      error: "must be at least 16 characters: it reloads and switches providers off",
    })
      .optional(),
  }).prefault({}),
  max_body_size: byteSizeSchema.refine((bytes) => bytes > 0, {
    error: "must be more than 0: it bounds every request's body, and there is no unbounded setting",
  }).default(33_554_432),
  body_timeout: durationSchema.default(120_000),
  max_body_memory: byteSizeSchema.optional(),
  shutdown_grace: durationSchema.default(30_000),
  keepalive: durationSchema.default(DEFAULT_KEEPALIVE_MS),
  max_concurrent: z.number().int().positive().default(64),
  max_queue: z.number().int().nonnegative().default(256),
  queue_timeout: durationSchema.default(30_000),
}).superRefine((server, ctx) => {
  if (server.max_body_memory !== undefined && server.max_body_memory < server.max_body_size) {
    ctx.addIssue({
      code: "custom",
      path: ["max_body_memory"],
      message: `must be at least server.max_body_size (${formatByteSize(server.max_body_size)}), so one ` +
        "body of that size fits",
    });
  }
  if (server.admin.token !== undefined && server.auth.tokens.includes(server.admin.token)) {
    ctx.addIssue({
      code: "custom",
      path: ["admin", "token"],
      message: "must differ from every client token: a client must not reach the admin API",
    });
  }
  if (isLoopbackHost(server.host) || server.auth.tokens.length > 0) return;
  ctx.addIssue({
    code: "custom",
    path: ["auth", "tokens"],
    message:
      `binding ${server.host} requires server.auth.tokens: without them anyone who can reach it spends your keys`,
  });
});

/**
 * `server.max_body_memory`, or unset, 256MiB or a `max_body_size` raised past it: no config that loaded
 * before the setting existed fails now.
 *
 * @example
 * ```ts
 * maxBodyMemory(configSchema.parse({ providers: [{ name: "mock", type: "mock" }] }).server); // 268435456
 * ```
 */
export function maxBodyMemory(server: { max_body_memory?: number; max_body_size: number }): number {
  return server.max_body_memory ?? Math.max(_DEFAULT_MAX_BODY_MEMORY, server.max_body_size);
}

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
  routing: z.strictObject({
    strategy: z.enum(STRATEGY_NAMES).default("failover"),
    /** Per model (exact name or glob), a strategy other than `strategy`. */
    models: z.record(z.string().min(1), z.enum(STRATEGY_NAMES)).optional(),
    /** For the `model` strategy: model name -> provider name. */
    model_routes: z.record(z.string().min(1), z.string().min(1)).optional(),
    affinity: z.boolean().default(true),
    max_attempts: z.number().int().min(1).max(10).default(3),
    backoff: durationSchema.default(250),
    max_backoff: durationSchema.default(8_000),
    max_retry_after: durationSchema.default(60_000),
    max_wait: durationSchema.default(30_000),
    exploration: z.number().min(0).max(1).default(0.05),
    cost_threshold_tokens: z.number().int().nonnegative().default(0),
    breaker: z.strictObject({
      failures: z.number().int().min(1).default(5),
      window: durationSchema.default(60_000),
      cooldown: durationSchema.default(30_000),
      /** Failed probes double `cooldown` up to this; 10 minutes, or `cooldown` when that is longer. */
      max_cooldown: durationSchema.optional(),
      /**
       * The least time `failures` must span: requests meeting one short burst together open nothing. 2 s,
       * or half of `window` when that is shorter (`routingOptionsFromConfig`).
       */
      min_span: durationSchema.optional(),
      /**
       * With every provider a request could go to open, the request goes to one as its probe, early,
       * one at a time (`RoutingOptions.lastResort`).
       */
      last_resort: z.boolean().default(true),
    }).superRefine((breaker, ctx) => {
      if (breaker.min_span !== undefined && breaker.min_span >= breaker.window) {
        ctx.addIssue({
          code: "custom",
          path: ["min_span"],
          message: `must be less than window (${
            formatDuration(breaker.window)
          }): failures must span min_span within window to open the breaker`,
        });
      }
      if (breaker.max_cooldown === undefined || breaker.max_cooldown >= breaker.cooldown) return;
      const cooldown = formatDuration(breaker.cooldown);
      ctx.addIssue({
        code: "custom",
        path: ["max_cooldown"],
        message:
          `must be at least cooldown (${cooldown}): failed probes double the cooldown up to max_cooldown`,
      });
    }).prefault({}),
  }).prefault({}),
  log: z.strictObject({
    level: z.enum(["debug", "info", "warn", "error"]).default("info"),
    bodies: z.boolean().default(false),
  }).prefault({}),
  ledger: z.strictObject({
    enabled: z.boolean().default(true),
    /**
     * The database file; `$XDG_DATA_HOME/relay/ledger.db` when left out (see `src/ledger/open.ts`).
     * Loading the file reads a relative path from its folder, `~/` from the home folder (see load.ts).
     */
    path: z.string().min(1).optional(),
    retention_days: z.number().int().positive().default(90),
    flush_interval: durationSchema.default(1_000),
    queue_size: z.number().int().positive().default(10_000),
  }).prefault({}),
  /**
   * USD per million tokens (and per thousand web searches) by model id or glob, over the built-in prices
   * of `src/ledger/pricing.ts`.
   */
  pricing: z.record(
    z.string().min(1),
    _tokenPrices.extend({
      web_search: z.number().nonnegative({ error: "must be 0 or more (USD per 1,000 web searches)" })
        .optional(),
      fast: z.number().nonnegative({ error: "must be 0 or more (times the token prices, in fast mode)" })
        .optional(),
      long_prompt: _tokenPrices.extend({
        above: z.number().int({ error: "must be a whole number of prompt tokens" })
          .positive({ error: "must be a whole number of prompt tokens above 0" }),
      }).optional(),
    }),
  ).default({}),
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
}).superRefine((config, ctx) => {
  const names = new Set(config.providers.map((provider) => provider.name));
  for (const [model, provider] of Object.entries(config.routing.model_routes ?? {})) {
    if (names.has(provider)) continue;
    ctx.addIssue({
      code: "custom",
      path: ["routing", "model_routes", model],
      message: `no provider is named \`${provider}\` (providers: ${[...names].join(", ")})`,
    });
  }
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
 * Whether `host` is something relay can listen on by name: an IPv4 or IPv6 address, or a host name of
 * letters, digits and hyphens between dots (a dotted name of digits only must be an IPv4 address).
 */
function _isHostName(host: string): boolean {
  if (host.includes(":")) return _isIpv6(host);
  // An IPv4 address, short forms too (`127.1`, as the system reads them); `999.1.1.1` is none.
  if (/^[\d.]+$/.test(host)) return URL.canParse(`http://${host}/`);
  return host.length <= 253 && host.split(".").every((label) => _HOST_LABEL.test(label));
}

const _HOST_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

function _isIpv6(host: string): boolean {
  const bare = withoutBrackets(host);
  if (/[[\]]/.test(bare)) return false;
  try {
    return new URL(`http://[${bare}]/`).hostname.length > 2;
  } catch {
    return false;
  }
}

/**
 * Whether binding `host` keeps relay reachable from this machine only: `localhost`, `127.0.0.0/8` or
 * `::1`. Anything else needs `server.auth.tokens`.
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.toLowerCase().replace(/^\[(.*)\]$/, "$1");
  if (bare === "localhost") return true;
  if (bare.includes(":")) return _isLoopbackIpv6(bare);
  const octets = bare.split(".");
  return octets.length === 4 && octets[0] === "127" &&
    octets.every((octet) => /^\d{1,3}$/.test(octet) && Number(octet) <= 255);
}

/** `::1` however it is spelled (`0:0:0:0:0:0:0:1`), or `127.0.0.0/8` mapped into IPv6 (`::ffff:127.0.0.1`). */
function _isLoopbackIpv6(address: string): boolean {
  let canonical: string;
  try {
    canonical = new URL(`http://[${address}]/`).hostname;
  } catch {
    return false;
  }
  return canonical === "[::1]" || /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(canonical);
}

/** Why `value` cannot travel in an HTTP header as relay sends it, said by position, never echoing it. */
export function headerValueProblem(value: string): string | undefined {
  const chars = [...value];
  const bad = chars.findIndex((char) => char < " " || char > "~");
  if (bad !== -1) {
    const code = chars[bad].codePointAt(0)!;
    const what = code === 0x09
      ? "a tab"
      : code === 0x0a || code === 0x0d
      ? "a line break"
      : code < 0x20 || code === 0x7f
      ? "a control character"
      : "not ASCII";
    return `character ${bad + 1} is ${what}: it travels in an HTTP header, which takes printable ASCII only`;
  }
  if (value.startsWith(" ") || value.endsWith(" ")) {
    return "starts or ends with a space: it travels in an HTTP header, which drops spaces at the ends";
  }
  // A shell's habit: relay expands `${NAME}` only, so this would go upstream as the key itself.
  const variable = /^\$([A-Za-z_][A-Za-z0-9_]*)$/.exec(value);
  if (variable) return `is the text ${value}, not a variable's value: write \${${variable[1]}} to use one`;
  return undefined;
}

function _article(word: string): string {
  return /^[aeiou]/.test(word) ? "an" : "a";
}

// Relay appends the request path and query to base_url, so anything after the path would corrupt the
// upstream URL, and credentials belong in `keys`, where they are masked. A port fetch blocks fails
// every request, so it is refused here, where the file names it, not at run time.
function _baseUrlProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    // Neither a scheme nor a dot: likely a secret put here by mistake (two variables swapped), masked.
    const urlLike = value.includes("://") || value.includes(".");
    const found = urlLike ? `"${maskKeyShapedTokens(value)}"` : `a string (${maskSecret(value)})`;
    return `expected an http(s) URL like https://api.anthropic.com, found ${found}`;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return `must be an http or https URL, not ${url.protocol.slice(0, -1)}`;
  }
  if (url.username || url.password) return "must not contain credentials: put the key under keys";
  if (isFetchBlockedPort(url)) {
    return `port ${url.port} is blocked by fetch (one of the Fetch standard's "bad ports"), so no request ` +
      "could reach it: use another port";
  }
  if (url.search || url.hash || value.includes("?") || value.includes("#")) {
    return "must not have a query or fragment: relay appends the request path to it";
  }
  return undefined;
}
