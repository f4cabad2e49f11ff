/**
 * The command a person runs this relay with, for the commands relay tells them to type next: `relay`,
 * as the bundle and a compiled binary are installed, or `deno task relay` for `main.ts` run from source,
 * as the README's first steps run it (in the project's folder, with its permission set).
 *
 * @example
 * ```ts
 * `start it: ${relayInvocation()} serve`; // "start it: deno task relay serve" from source
 * ```
 */
export function relayInvocation(mainModule = Deno.mainModule, standalone = Deno.build.standalone): string {
  return !standalone && mainModule.endsWith("/main.ts") ? "deno task relay" : "relay";
}
