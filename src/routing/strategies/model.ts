import { preferNamed, type Strategy } from "./types.ts";

/**
 * `model`: a table from exact model name to the provider that should serve it, first; the others
 * follow in the config's order, as failover for it. A model not in the table, or whose provider
 * cannot serve this request, keeps the config's order.
 *
 * @example
 * ```ts
 * const strategy = modelStrategy({ routes: { "claude-haiku-4-5": "bedrock" } });
 * strategy.order([anthropic, bedrock], { model: "claude-haiku-4-5", estimatedTokens }); // [bedrock, anthropic]
 * ```
 */
export function modelStrategy(options: { routes: Readonly<Record<string, string>> }): Strategy {
  const routes = new Map(Object.entries(options.routes));
  return {
    name: "model",
    order: (candidates, request) =>
      preferNamed(candidates, request.model === undefined ? undefined : routes.get(request.model)),
  };
}
