import { shellQuote } from "./shell_quote.ts";

/**
 * The command a person runs this relay with, for the commands relay tells them to type next: `relay`,
 * as the bundle and a compiled binary are installed, or for `main.ts` run from source the project's
 * `relay` task, named by its `deno.json` so that it runs from any folder (a bare `deno task relay` finds
 * no task outside the project, and `eval "$(… env)"` would then set nothing, silently).
 *
 * @example
 * ```ts
 * `start it: ${relayInvocation()} serve`; // "start it: deno task --config /home/me/relay/deno.json relay serve"
 * ```
 */
export function relayInvocation(mainModule = Deno.mainModule, standalone = Deno.build.standalone): string {
  if (standalone || !mainModule.endsWith("/main.ts")) return "relay";
  const config = decodeURIComponent(new URL("deno.json", mainModule).pathname);
  return `deno task --config ${shellQuote(config)} relay`;
}
