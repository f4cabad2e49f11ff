import { Command } from "@commander-js/extra-typings";
import { resolveConfig } from "../config/resolve.ts";
import { summarizeConfig } from "../config/summary.ts";
import { systemEnvironment } from "../providers/registry.ts";
import { routesFromConfig } from "../routing/routes.ts";
import { reportConfigError } from "./_config_error.ts";

/**
 * `relay check`: validates the config relay would use and prints what it would serve, keys masked.
 * Exits non-zero on any problem, so it can guard a deploy.
 */
export function checkCommand(setExitCode: (code: number) => void) {
  return new Command("check")
    .description("validate the config and print a summary (keys masked)")
    .option(
      "-c, --config <path>",
      "config file (default: $RELAY_CONFIG, ./relay.yaml, ~/.config/relay/relay.yaml)",
    )
    .action(async (options) => {
      try {
        const resolved = await resolveConfig({ flag: options.config });
        // Building the providers finds their credentials, so a missing AWS or Google one fails here too.
        routesFromConfig(resolved.config, resolved.path, systemEnvironment, resolved.locate);
        if (resolved.banner) console.log(resolved.banner);
        console.log(summarizeConfig(resolved.config, resolved.path));
        for (const warning of resolved.warnings) console.error(`warning: ${warning}`);
        console.log(
          resolved.path ? `\n${resolved.path} is valid.` : "\nNo config file; the defaults above are valid.",
        );
      } catch (error) {
        setExitCode(reportConfigError(error));
      }
    });
}
