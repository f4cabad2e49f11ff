/** A named client token and its limits, as `server.auth.tokens` holds them once parsed. */
export interface ClientConfig {
  name: string;
  token: string;
  /** Requests per minute. */
  rpm?: number;
  /** Input plus output tokens per minute. */
  tpm?: number;
  /** Model names or globs the client may ask for; any model when left out. */
  models?: string[];
  /** USD the client may spend per calendar month (UTC), as the ledger prices its requests. */
  monthly_budget_usd?: number;
}

/**
 * Names legacy string tokens `client-1`, `client-2`, ... by their place in the list, and keeps named
 * clients as they are.
 *
 * @example
 * ```ts
 * namedClients(["rly_4f9c...", { name: "ci", token: "rly_77aa..." }]);
 * // [{ name: "client-1", token: "rly_4f9c..." }, { name: "ci", token: "rly_77aa..." }]
 * ```
 */
export function namedClients(tokens: readonly (string | ClientConfig)[]): ClientConfig[] {
  return tokens.map((entry, index) =>
    typeof entry === "string" ? { name: `client-${index + 1}`, token: entry } : entry
  );
}
