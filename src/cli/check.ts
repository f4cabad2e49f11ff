import { Command } from "@commander-js/extra-typings";
import { ConfigError } from "../config/errors.ts";
import { resolveConfig } from "../config/resolve.ts";
import type { Config } from "../config/schema.ts";
import { summarizeConfig } from "../config/summary.ts";
import { ledgerPath } from "../ledger/open.ts";
import { whyUnwritable } from "../ledger/unwritable.ts";
import { awsLoginProblem } from "../providers/aws_credentials.ts";
import { signsWithAwsCredentials, systemEnvironment } from "../providers/registry.ts";
import { routesFromConfig } from "../routing/routes.ts";
import { DEFAULT_LEDGER_HINT, LEDGER_PATH_HINT } from "./_ledger_hints.ts";
import { reportConfigError } from "./_config_error.ts";
import { CONFIG_SEARCH } from "../config/find.ts";

/**
 * `relay check`: validates the config relay would use and prints what it would serve, keys masked.
 * Exits non-zero on any problem, so it can guard a deploy.
 */
export function checkCommand(setExitCode: (code: number) => void) {
  return new Command("check")
    .description("validate the config and print a summary (keys masked)")
    .option(
      "-c, --config <path>",
      `config file (default: ${CONFIG_SEARCH})`,
    )
    .action(async (options) => {
      try {
        const resolved = await resolveConfig({ flag: options.config });
        // Building the providers finds their credentials, so a missing AWS or Google one fails here too.
        routesFromConfig(resolved.config, resolved.path, systemEnvironment, resolved.locate);
        // An SSO login is the machine's state, not the config's, and relay serve starts without one.
        const logins = resolved.config.providers.flatMap((provider) => {
          if (provider.type !== "bedrock" || !signsWithAwsCredentials(provider)) return [];
          const problem = awsLoginProblem({ config: provider.aws, ...systemEnvironment });
          return problem ? [`provider ${provider.name} cannot sign requests yet: ${problem}`] : [];
        });
        // relay serve refuses to start over a ledger a config file asks for; on the built-in defaults it
        // starts without recording usage, and says so.
        const ledger = _ledgerProblem(
          resolved.config,
          resolved.path === undefined
            ? `so relay serve records no usage: ${DEFAULT_LEDGER_HINT}`
            : LEDGER_PATH_HINT,
        );
        if (ledger !== undefined && resolved.path !== undefined) {
          const at = resolved.config.ledger.path === undefined ? undefined : ["ledger", "path"];
          throw new ConfigError(resolved.path, [{
            path: "ledger.path",
            ...(at && resolved.locate?.(at)),
            message: ledger,
          }]);
        }
        if (resolved.banner) console.log(resolved.banner);
        console.log(summarizeConfig(resolved.config, resolved.path));
        for (const warning of [...resolved.warnings, ...logins]) console.error(`warning: ${warning}`);
        if (ledger !== undefined) console.error(`warning: ${ledger}`);
        console.log(
          resolved.path ? `\n${resolved.path} is valid.` : "\nNo config file; the defaults above are valid.",
        );
      } catch (error) {
        setExitCode(reportConfigError(error));
      }
    });
}

/**
 * Why `relay serve` could not open the config's ledger on this machine as it is now, with `hint`, or
 * `undefined` when nothing says it could not. Only looked at: `check` creates neither the file nor its
 * folder.
 */
function _ledgerProblem(config: Config, hint: string): string | undefined {
  if (!config.ledger.enabled) return undefined;
  let path: string;
  try {
    path = ledgerPath(config.ledger.path, (name) => Deno.env.get(name));
  } catch (error) {
    if (error instanceof ConfigError) return error.problems[0].message;
    throw error;
  }
  const why = whyUnwritable(path);
  if (why === undefined) return undefined;
  return `relay serve cannot open its usage ledger ${path}: ${why} (${hint})`;
}
