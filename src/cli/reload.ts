import { Command } from "@commander-js/extra-typings";
import { ConfigError } from "../config/errors.ts";
import { AdminClientError, adminRequest } from "./_admin_client.ts";
import { CONFIG_SEARCH } from "../config/find.ts";

/**
 * `relay reload`: asks the running relay to read its config file again (`POST /admin/reload`). Prints
 * the new version and what changed; when the file is refused, prints why and exits 1, the previous
 * config still serving. A file that does not load here is still sent on (what relay needs is read from
 * what parses), since relay reads it with its own environment and is the one that decides: a shell
 * without relay's `${VAR}`s must not stop a reload relay would take.
 */
export function reloadCommand(setExitCode: (code: number) => void) {
  return new Command("reload")
    .description("make the running relay read its config again (the same as SIGHUP)")
    .option(
      "-c, --config <path>",
      `config file with server.admin.token (default: ${CONFIG_SEARCH})`,
    )
    .option("--url <url>", "the running relay, when not where the config says (e.g. http://127.0.0.1:9000)")
    .action(async (options) => {
      try {
        const { body, file, configError } = await adminRequest(options, "POST", "/reload", {
          despiteConfigError: true,
          isAnswer: (body) => typeof body.ok === "boolean" && typeof body.version === "number",
        });
        const elsewhere = typeof body.path === "string" && file !== undefined && !_sameFile(file, body.path);
        // relay reads the file it started on: what it took or refused is that one, not the one given here.
        if (elsewhere) console.error(`note: relay runs on ${body.path}, not ${file}: it read that again`);
        else if (configError && body.ok === true) {
          console.error(
            `note: ${configError.file} does not load here, but relay took it:\n${configError.message}`,
          );
        }
        if (body.ok !== true) {
          console.error(`reload refused; config version ${body.version} keeps serving:\n${body.error}`);
          return setExitCode(1);
        }
        console.log(formatReload(body));
      } catch (error) {
        if (error instanceof ConfigError || error instanceof AdminClientError) {
          console.error(error.message);
        } else {
          throw error;
        }
        setExitCode(1);
      }
    });
}

/** Whether two paths name one file, links and `..` aside; paths that cannot be resolved compare as given. */
function _sameFile(a: string, b: string): boolean {
  const real = (path: string) => {
    try {
      return Deno.realPathSync(path);
    } catch {
      return path;
    }
  };
  return real(a) === real(b);
}

/**
 * What a successful reload did, as `relay reload` prints it.
 *
 * @example
 * ```ts
 * formatReload({ version: 4, added: ["zai"], removed: [], changed: [], kept: ["anthropic"], needs_restart: [] });
 * // "reloaded: config version 4\n  added: zai\n  kept: anthropic"
 * ```
 */
export function formatReload(body: Record<string, unknown>): string {
  const lines = [`reloaded: config version ${body.version}`];
  for (const what of ["added", "removed", "changed", "kept"]) {
    const names = body[what] as string[] | undefined;
    if (names?.length) lines.push(`  ${what}: ${names.join(", ")}`);
  }
  const restart = body.needs_restart as string[] | undefined;
  if (restart?.length) lines.push(`  needs a restart to apply: ${restart.join(", ")}`);
  return lines.join("\n");
}
