import { Command, CommanderError } from "@commander-js/extra-typings";
import { withoutOsError } from "../util/error_message.ts";
import { VERSION } from "../version.ts";
import { benchCommand } from "./bench.ts";
import { checkCommand } from "./check.ts";
import { envCommand } from "./env.ts";
import { initCommand } from "./init.ts";
import { reloadCommand } from "./reload.ts";
import { serveCommand } from "./serve.ts";
import { statusCommand } from "./status.ts";
import { usageCommand } from "./usage.ts";

/**
 * relay's command line. Returns the process exit code instead of exiting, so tests can drive it.
 *
 * @example
 * ```ts
 * Deno.exit(await main(["serve", "--port", "9000"]));
 * ```
 */
export async function main(args: string[]): Promise<number> {
  let exitCode = 0;
  const program = new Command()
    .name("relay")
    .description("A fast, faithful relay between LLM clients (Claude Code first) and their providers.")
    .version(VERSION, "-V, --version")
    .exitOverride()
    .showHelpAfterError("(run relay --help for usage)")
    .addCommand(serveCommand((code) => exitCode = code))
    .addCommand(checkCommand((code) => exitCode = code))
    .addCommand(initCommand((code) => exitCode = code))
    .addCommand(envCommand((code) => exitCode = code))
    .addCommand(benchCommand((code) => exitCode = code))
    .addCommand(usageCommand((code) => exitCode = code))
    .addCommand(statusCommand((code) => exitCode = code))
    .addCommand(reloadCommand((code) => exitCode = code));
  try {
    await program.parseAsync(args, { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    if (!_isOutputError(error)) throw error;
    console.error(`relay: cannot write its output: ${withoutOsError(error.message)}`);
    return 1;
  }
  return exitCode;
}

/**
 * Whether `error` is a write the system refused for want of room. The files relay writes for a person
 * (config, settings, ledger) report their own failures, so one that gets this far was a write to stdout
 * (`relay env > /dev/full`); a closed pipe is not one, as Deno drops what is printed to it. A failing
 * device (EIO) is not one either: a read fails with it as well.
 */
function _isOutputError(error: unknown): error is Error {
  return error instanceof Error && _OUTPUT_ERRORS.has((error as { code?: unknown }).code);
}

const _OUTPUT_ERRORS = new Set<unknown>(["ENOSPC", "EDQUOT", "EFBIG"]);
