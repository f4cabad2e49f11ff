import type { BedrockProviderConfig, ProviderConfig } from "../config/schema.ts";
import { createAnthropicProvider } from "./anthropic.ts";
import { awsCredentials } from "./aws_credentials.ts";
import { createAzureProvider } from "./azure.ts";
import { createBedrockProvider } from "./bedrock.ts";
import { entraClientCredentialsTokens } from "./entra_auth.ts";
import { readCredentialsFile } from "./credentials_file.ts";
import { googleServiceAccountTokens } from "./google_auth.ts";
import { createMockProvider } from "./mock.ts";
import { createOpenAIProvider } from "./openai.ts";
import { TOKEN_RETRY_AFTER_MS } from "./token_cache.ts";
import type { Logger } from "../util/logger.ts";
import type { Provider } from "./types.ts";
import { createVertexProvider } from "./vertex.ts";
import { errorMessage } from "../util/error_message.ts";

/** Where adapters find credentials the config leaves to the machine: environment and files. */
export interface ProviderEnvironment {
  env: (name: string) => string | undefined;
  /** A file's text, or `undefined` when it does not exist; throws when it is not a regular file. */
  readFile: (path: string) => string | undefined;
  /** Where adapters tell what goes wrong outside any request (a token refresh behind requests). */
  logger?: Logger;
}

/**
 * Whether a Bedrock provider signs its requests (SigV4) with AWS credentials, found as the AWS CLI finds
 * them: when it has no keys, which are Bedrock API keys otherwise. `relay check` asks the same.
 */
export function signsWithAwsCredentials(config: BedrockProviderConfig): boolean {
  return config.keys.length === 0;
}

/**
 * Builds the adapter a provider's `type` names; new upstream types register here. Throws when the
 * credentials a provider needs cannot be found, so relay refuses to start rather than fail per request.
 */
export function createProvider(config: ProviderConfig, environment: ProviderEnvironment): Provider {
  const { name } = config;
  switch (config.type) {
    case "mock":
      return createMockProvider(name, config.mock);
    case "bedrock":
      return createBedrockProvider({
        name,
        region: config.region,
        baseUrl: config.base_url,
        credentials: signsWithAwsCredentials(config)
          ? awsCredentials({
            config: config.aws,
            env: environment.env,
            readFile: environment.readFile,
            logger: environment.logger,
            provider: name,
            onRefreshFailed: _refreshFailed(name, environment),
          })
          : "api_key",
        // Bedrock names no refused flag: it remembers the whole set, for the model.
        onBetasRefused: _betasRefused(
          name,
          environment,
          "dropped from this model's requests with this same set of betas until relay reloads",
        ),
      });
    case "vertex": {
      const credentialsFile = config.credentials_file ?? environment.env("GOOGLE_APPLICATION_CREDENTIALS");
      if (!credentialsFile) {
        throw new Error("no service account: set credentials_file or $GOOGLE_APPLICATION_CREDENTIALS");
      }
      return createVertexProvider({
        name,
        project: config.project,
        region: config.region,
        baseUrl: config.base_url,
        tokens: googleServiceAccountTokens({
          credentialsFile,
          tokenUrl: config.token_url,
          onRefreshFailed: _refreshFailed(name, environment),
        }),
        onBetasRefused: _betasRefused(name, environment),
      });
    }
    case "azure":
      return createAzureProvider({
        name,
        baseUrl: config.base_url,
        auth: config.entra
          ? entraClientCredentialsTokens({
            tenantId: config.entra.tenant_id,
            clientId: config.entra.client_id,
            clientSecret: config.entra.client_secret,
            scope: config.entra.scope,
            tokenUrl: config.entra.token_url,
            onRefreshFailed: _refreshFailed(name, environment),
          })
          : "x-api-key",
      });
    case "openai":
      return createOpenAIProvider({
        name,
        baseUrl: config.base_url,
        onFieldRefused: _learnt(name, environment, "field refused", "field", {
          hint: "dropped from this model's requests until relay reloads",
        }),
        onFieldAsked: _learnt(name, environment, "field asked", "field", {
          hint: "sent empty on this model's tool-calling messages without it until relay reloads",
        }),
        onMaxTokensCapped: _learnt(name, environment, "max_tokens capped", "cap", {
          hint: "this model's requests ask for at most this many output tokens until relay reloads",
        }),
      });
    default:
      return createAnthropicProvider({
        name,
        type: config.type,
        baseUrl: config.base_url,
        authHeader: config.auth_header,
        // Ollama's Messages API has no count_tokens (its docs list it as not supported).
        countsTokens: config.type !== "ollama",
        // Anthropic's own API words its token limits as Claude Code reads them; the others, their own way.
        rewordsTokenLimits: config.type !== "anthropic",
      });
  }
}

/** Logs, once a model (Bedrock: a model and set of betas), the betas an upstream refused it, which it then goes without. */
function _betasRefused(
  provider: string,
  environment: ProviderEnvironment,
  hint = "dropped from this model's requests until relay reloads",
): (model: string, betas: string[]) => void {
  return (model, betas) =>
    environment.logger?.info("betas refused", {
      provider,
      model,
      betas: betas.join(","),
      hint,
    });
}

/**
 * Logs, once a model, what an upstream taught relay of its requests (a field it refused or asked for, the
 * output cap it named), under `detail`, with the `hint` of what relay does about it.
 */
function _learnt<T extends string | number>(
  provider: string,
  environment: ProviderEnvironment,
  what: string,
  detail: string,
  { hint }: { hint: string },
): (model: string, learnt: T) => void {
  return (model, learnt) => environment.logger?.info(what, { provider, model, [detail]: learnt, hint });
}

/** Logs a provider's failed token refresh: its requests go on with the current token until it expires. */
function _refreshFailed(provider: string, environment: ProviderEnvironment): (error: unknown) => void {
  return (error) =>
    environment.logger?.warn("token refresh failed", {
      provider,
      error: errorMessage(error),
      hint: "requests go on with the current token until it expires; the refresh is tried again " +
        `${TOKEN_RETRY_AFTER_MS / 1000} s on`,
    });
}

/** The machine's own environment and files. */
export const systemEnvironment: ProviderEnvironment = {
  env: (name) => Deno.env.get(name),
  readFile: (path) => {
    try {
      return readCredentialsFile(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
  },
};
