/**
 * The provider types `relay init` offers, what it asks of each, and the checks its answers get: one
 * place to read (or extend) before the questions that use them.
 */
import { expandString } from "../../config/env_expand.ts";
import { pathInConfig } from "../../config/find.ts";
import { configSchema, headerValueProblem, PROVIDER_TYPES, type ProviderType } from "../../config/schema.ts";
import { BLOCKED_PORT_PROBLEM, isBlockedPort } from "../../config/blocked_ports.ts";
import { readCredentialsFile } from "../../providers/credentials_file.ts";
import { modelMapProblems } from "../../routing/model_map.ts";
import { homeFolder } from "../../util/home.ts";
import type { Choice } from "../_prompts.ts";
import type { InitContext } from "./context.ts";

/** A per-provider setting asked besides key and models. */
export type Field = "base_url" | "region" | "project" | "credentials_file" | "aws_profile";

/** One per-provider question besides key and models. */
interface _FieldQuestion {
  field: Field;
  message: string;
  /**
   * The answer offered for a new provider, given its answers so far; `""` leaves the field out,
   * `undefined` means none can be guessed.
   */
  suggest: (context: InitContext, answers: Partial<Record<Field, string>>) => string | undefined;
  /** Set only by its flag: asking would be noise for nearly everyone. */
  flagOnly?: true;
  /** Named choices instead of free text; the value `""` leaves the field out. */
  choices?: (context: InitContext) => Choice<string>[];
  /** A file on this machine: answered from the folder init runs in, written as the config reads it. */
  path?: true;
}

/** What `relay init` knows about one provider type. Offering a new type is one entry in {@linkcode _KINDS}. */
export interface ProviderKind {
  type: ProviderType;
  label: string;
  hint: string;
  /** Where its key conventionally lives, offered as a `${VAR}` reference. */
  keyVar?: string;
  /**
   * `asked`: the type needs a key; `optional`: asked, "no key" allowed; `flag`: set by --key only (a
   * key is rare); `none`: it takes none.
   */
  key: "asked" | "optional" | "flag" | "none";
  fields: _FieldQuestion[];
  /**
   * The `models:` table offered (`name=id, ...`), or how it follows the region where its ids depend on
   * it ({@linkcode offeredModels}); asked only when set, `""` offering none.
   */
  models?: string | ((region: string) => string);
  /** An Anthropic-format upstream, so its key can be tried with `GET /v1/models`. */
  checksKey?: true;
  /** What on this machine suggests it, for the list of findings. */
  found?: (context: InitContext) => string | undefined;
}

/** Region prefix -> Bedrock inference-profile prefix, first match wins; `global` for any other region. */
const _BEDROCK_GEOGRAPHIES: readonly [string, string][] = [
  ["us-gov-", "us-gov"],
  ["us-", "us"],
  ["eu-", "eu"],
  ["ap-", "apac"],
];

/**
 * Bedrock's cross-region inference profiles for Claude, which on-demand requests need: a profile
 * serves only requests from its own geography, so its prefix follows the region as Claude Code picks
 * it (protocols.md §3.1).
 */
function _bedrockModels(region: string): string {
  const geography = _BEDROCK_GEOGRAPHIES.find(([prefix]) => region.startsWith(prefix))?.[1] ?? "global";
  return `claude-sonnet-4-5=${geography}.anthropic.claude-sonnet-4-5-20250929-v1:0, ` +
    `claude-haiku-4-5=${geography}.anthropic.claude-haiku-4-5-20251001-v1:0`;
}

/** The region Bedrock's question suggests when the environment names none. */
const _DEFAULT_REGION = "us-east-1";

const _found = (context: InitContext, name: string) =>
  context.env(name)?.trim() ? `${name} is set` : undefined;

const _KINDS: readonly ProviderKind[] = [
  {
    type: "anthropic",
    label: "Anthropic",
    hint: "the Anthropic API, with an API key",
    keyVar: "ANTHROPIC_API_KEY",
    key: "asked",
    fields: [{ field: "base_url", message: "API root", suggest: () => "", flagOnly: true }],
    checksKey: true,
    found: (context) => _found(context, "ANTHROPIC_API_KEY"),
  },
  {
    type: "anthropic-compatible",
    label: "Anthropic-compatible gateway",
    hint: "any other endpoint speaking the Messages API",
    key: "asked",
    fields: [{
      field: "base_url",
      message: "The gateway's API root (without /v1/messages)",
      suggest: () => undefined,
    }],
    models: "",
    checksKey: true,
  },
  {
    type: "zai",
    label: "Z.AI",
    hint: "GLM models through Z.AI's Anthropic endpoint",
    keyVar: "ZAI_API_KEY",
    key: "asked",
    fields: [{ field: "base_url", message: "API root", suggest: () => "", flagOnly: true }],
    models: "claude-*=GLM-4.7",
    checksKey: true,
    found: (context) => _found(context, "ZAI_API_KEY"),
  },
  {
    type: "ollama",
    label: "Ollama",
    hint: "local models (Ollama 0.14 or later), no key",
    key: "flag",
    fields: [{
      field: "base_url",
      message: "Ollama's URL",
      suggest: () => schemaDefault("ollama", "base_url"),
    }],
    models: "",
  },
  {
    type: "bedrock",
    label: "Amazon Bedrock",
    hint: "AWS credentials, requests signed with SigV4",
    key: "flag",
    fields: [
      {
        field: "region",
        message: "AWS region",
        suggest: (context) =>
          context.env("AWS_REGION") || context.env("AWS_DEFAULT_REGION") || _DEFAULT_REGION,
      },
      {
        field: "aws_profile",
        message: "AWS credentials",
        suggest: () => "",
        choices: (context) => [
          { value: "", label: "the default chain", hint: "AWS_* variables, then AWS_PROFILE or [default]" },
          ...context.awsProfiles.map((profile) => ({ value: profile, label: `profile ${profile}` })),
        ],
      },
    ],
    models: _bedrockModels,
    found: (context) => {
      const found = [
        context.env("AWS_ACCESS_KEY_ID") && "AWS_ACCESS_KEY_ID is set",
        context.awsProfiles.length > 0 && `AWS profiles: ${context.awsProfiles.join(", ")}`,
      ].filter(Boolean);
      return found.length > 0 ? found.join("; ") : undefined;
    },
  },
  {
    type: "vertex",
    label: "Google Vertex AI",
    hint: "a Google Cloud service account",
    key: "none",
    // The file first: the project it names is offered next.
    fields: [
      {
        field: "credentials_file",
        message: "Service-account JSON file",
        path: true,
        suggest: (context) => context.env("GOOGLE_APPLICATION_CREDENTIALS") || undefined,
      },
      {
        field: "project",
        message: "Google Cloud project id",
        suggest: (context, answers) =>
          context.env("ANTHROPIC_VERTEX_PROJECT_ID") || _serviceAccountProject(context, answers) ||
          context.env("GOOGLE_CLOUD_PROJECT") || undefined,
      },
      {
        field: "region",
        message: "Vertex region (a region, global, us or eu)",
        suggest: (context) => context.env("CLOUD_ML_REGION") || "global",
      },
    ],
    models: "claude-sonnet-4-5=claude-sonnet-4-5@20250929",
    found: (context) => _found(context, "GOOGLE_APPLICATION_CREDENTIALS"),
  },
  {
    type: "azure",
    label: "Microsoft Foundry",
    hint: "Claude on Azure, with a key",
    keyVar: "AZURE_API_KEY",
    key: "asked",
    fields: [{
      field: "base_url",
      message: "Resource endpoint (https://<resource>.services.ai.azure.com/anthropic)",
      suggest: () => undefined,
    }],
    models: "",
    found: (context) => _found(context, "AZURE_API_KEY"),
  },
  {
    type: "openai",
    label: "OpenAI-compatible",
    hint: "Chat Completions: OpenAI, OpenRouter, vLLM, LM Studio, llama.cpp",
    keyVar: "OPENAI_API_KEY",
    key: "optional",
    fields: [{
      field: "base_url",
      message: "API root, with its version path",
      suggest: () => schemaDefault("openai", "base_url"),
    }],
    models: "",
    found: (context) => _found(context, "OPENAI_API_KEY"),
  },
  {
    type: "mock",
    label: "Mock",
    hint: "canned answers, no upstream: try relay without a key",
    key: "flag",
    fields: [],
  },
];

/**
 * The `project_id` of the service-account file relay will read: the one answered (written as the
 * config reads it, from its folder), else `$GOOGLE_APPLICATION_CREDENTIALS`; `undefined` when there is
 * none, or it cannot be read or holds no project.
 */
function _serviceAccountProject(
  context: InitContext,
  answers: Partial<Record<Field, string>>,
): string | undefined {
  const answered = answers.credentials_file;
  const file = answered === undefined
    ? context.env("GOOGLE_APPLICATION_CREDENTIALS")
    : pathInConfig(answered, context.path, homeFolder(context.env));
  if (!file) return undefined;
  try {
    const project = JSON.parse(readCredentialsFile(file))?.project_id;
    return typeof project === "string" && project.trim() !== "" ? project.trim() : undefined;
  } catch {
    return undefined;
  }
}

/** The types this build of relay serves, in the order they are offered. */
export function offeredKinds(): ProviderKind[] {
  return _KINDS.filter((kind) => (PROVIDER_TYPES as readonly string[]).includes(kind.type));
}

/** What `relay init` knows of a type, or `undefined` for one it does not offer. */
export function kindOf(type: string): ProviderKind | undefined {
  return offeredKinds().find((kind) => kind.type === type);
}

/**
 * The `models:` table offered a new provider of `kind`, given the answers so far: Bedrock's follows
 * the region.
 *
 * @example
 * ```ts
 * offeredModels(kindOf("bedrock")!, { region: "eu-west-1" });
 * // "claude-sonnet-4-5=eu.anthropic.claude-sonnet-4-5-20250929-v1:0, claude-haiku-4-5=eu.anthropic..."
 * ```
 */
export function offeredModels(kind: ProviderKind, answers: { region?: string }): string | undefined {
  const { models } = kind;
  return typeof models === "function" ? models(answers.region ?? _DEFAULT_REGION) : models;
}

/** What the schema says of one field alone, so flags and answers are refused with relay's own words. */
export function fieldProblem(type: ProviderType, field: Field, value: string): string | undefined {
  const entry = field === "aws_profile"
    ? { aws: value ? { profile: value } : undefined }
    : { [field]: value || undefined };
  const result = configSchema.safeParse({ providers: [{ name: "check", type, ...entry }] });
  const at = field === "aws_profile" ? "aws" : field;
  return result.error?.issues.find((issue) => issue.path[2] === at)?.message;
}

/** The value the schema fills in for a field left out, e.g. Ollama's local URL. */
export function schemaDefault(type: ProviderType, field: Field): string | undefined {
  const result = configSchema.safeParse({ providers: [{ name: "check", type }] });
  const provider = result.data?.providers[0] as Record<string, unknown> | undefined;
  const value = provider?.[field];
  return typeof value === "string" ? value : undefined;
}

/** Why a key (or a `${VAR}` reference to one) cannot be used, or `undefined` when it can. */
export function keyProblem(value: string): string | undefined {
  if (value === "") return "a key is needed";
  if (/\s/.test(value)) return "a key holds no spaces";
  return headerValueProblem(value) ?? expandString(value, () => "set").problems[0]?.message;
}

/** Why an answer is not a port Claude Code can be pointed at, or `undefined` when it is. */
export function portProblem(value: string): string | undefined {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 1 || port > 65535) {
    return "expected a port number from 1 to 65535 (Claude Code needs a fixed one)";
  }
  return isBlockedPort(port) ? `port ${port} ${BLOCKED_PORT_PROBLEM}` : undefined;
}

/** Why a `name=id, ...` answer is not a usable `models:` table, or `undefined` when it is. */
export function modelsProblem(value: string): string | undefined {
  const entries = _splitModels(value);
  const bad = entries.find((entry) => !/^[^=\s]+=[^=\s]+$/.test(entry));
  if (bad !== undefined) return `"${bad}" is not name=id`;
  const names = entries.map((entry) => entry.split("=")[0]);
  const twice = names.find((name, i) => names.indexOf(name) !== i);
  if (twice !== undefined) return `${twice} is given twice: one id a name`;
  return modelMapProblems(parseModels(value) ?? {})[0];
}

/** A checked `name=id, ...` answer as a `models:` table; `undefined` (no table) when it is empty. */
export function parseModels(value: string): Record<string, string> | undefined {
  const entries = _splitModels(value).map((entry) => entry.split("=") as [string, string]);
  return entries.length === 0 ? undefined : Object.fromEntries(entries);
}

function _splitModels(value: string): string[] {
  return value.split(",").map((entry) => entry.trim()).filter(Boolean);
}

/** A `models:` table as the `name=id, ...` text it is asked as. */
export function formatModels(models: Record<string, string> | undefined): string {
  return Object.entries(models ?? {}).map(([name, id]) => `${name}=${id}`).join(", ");
}
