import { Command } from "@commander-js/extra-typings";
import { formatDiff } from "../config/diff.ts";
import { writeFileAtomic } from "../config/write.ts";
import { systemEnvironment } from "../providers/registry.ts";
import { routesFromConfig } from "../routing/routes.ts";
import { STRATEGY_NAMES } from "../routing/strategies/types.ts";
import { reportConfigError } from "./_config_error.ts";
import { Cancelled } from "./_prompts.ts";
import { build, type Built, checkedText, literalSecrets, nextSteps, redact } from "./init/build.ts";
import { checkKeys } from "./init/check_keys.ts";
import { type InitContext, type InitOptions, listFindings, loadContext } from "./init/context.ts";
import { refuseFlags } from "./init/flags.ts";
import { offeredKinds } from "./init/providers.ts";
import { askSetup } from "./init/questions.ts";
import { errorMessage } from "../util/error_message.ts";

/**
 * `relay init`: from nothing (or an existing config) to a private config file Claude Code can use,
 * by asking at a terminal or from flags alone. Exits 0 when written, 1 when refused or declined, 2 when
 * flags are missing or wrong and nobody can be asked, 130 when cancelled (nothing is left behind).
 */
export function initCommand(setExitCode: (code: number) => void) {
  return new Command("init")
    .description("set relay up (providers, keys, port, client token) in a private config file")
    .option(
      "-c, --config <path>",
      "file to write (default: the config relay would use, else ~/.config/relay/relay.yaml)",
    )
    .option(
      "--provider <types>",
      "providers to use, repeatable or comma-separated: a provider's name in the file, or a type " +
        "(the file's providers of that type, else a new one): " +
        offeredKinds().map((k) => k.type).join(", "),
      _collect,
    )
    .option("--key <[provider:]key>", "a key, or a ${VAR} reference to one (recommended)", _collect)
    .option("--base-url <[provider:]url>", "a provider's API root", _collect)
    .option("--region <[provider:]region>", "bedrock or vertex region", _collect)
    .option("--project <[provider:]id>", "vertex: the Google Cloud project", _collect)
    .option(
      "--aws-profile <[provider:]name>",
      "bedrock: a profile of the AWS credentials or config file (SSO ones too)",
      _collect,
    )
    .option("--credentials-file <[provider:]path>", "vertex: a service-account JSON file", _collect)
    .option(
      "--model <[provider:]name=id>",
      "a model a provider serves: the name clients ask for = the upstream's id (repeatable)",
      _collect,
    )
    .option(
      "--strategy <name>",
      `how relay picks among several providers: ${STRATEGY_NAMES.join(", ")} (default: failover)`,
    )
    .option("-p, --port <port>", "port relay listens on (default: 8787, or the file's)")
    .option("--token <token>", "the token clients send (default: a new random one, or the file's)")
    .option(
      "--new-token",
      "replace the file's first client token with a new random one (named clients are kept)",
    )
    .option("--validate", "check each key with one real call (asked at a terminal)")
    .option("--no-validate", "do not check keys")
    .option(
      "-y, --yes",
      "ask nothing: take the default wherever no flag answers, and write the changes to an existing file (a backup is kept)",
    )
    .action(async (options) => setExitCode(await _init(options)));
}

async function _init(options: InitOptions): Promise<number> {
  const controller = new AbortController();
  // Between questions the terminal is not raw, so Ctrl-C arrives as SIGINT: it must cancel, not kill,
  // or a temporary file could be left behind.
  const onSignal = () => controller.abort(new Cancelled());
  Deno.addSignalListener("SIGINT", onSignal);
  try {
    return await _run(options, controller.signal);
  } catch (error) {
    if (error instanceof Cancelled) {
      console.error("Cancelled: nothing was written.");
      return 130;
    }
    return reportConfigError(error);
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
  }
}

async function _run(options: InitOptions, signal: AbortSignal): Promise<number> {
  const context = await loadContext(options, signal);
  const { path, existing, prompter } = context;
  // A mistake already in the file is named at its own line, before any question, not in the edited text.
  if (existing !== undefined) checkedText(existing, context);
  if (prompter) {
    prompter.intro("relay init");
    const findings = listFindings(context);
    if (findings.length > 0) prompter.note(findings.join("\n"), "Found");
  }
  if (existing !== undefined && !prompter && !context.yes) context.missing.add("--yes");

  const setup = await askSetup(context, options);
  if (!setup) return refuseFlags(context);
  let built = build(context, setup);
  const checked = await checkKeys(context, setup, built, options.validate);
  if (checked === "refused") return 1;
  built = checked;
  for (const warning of built.warnings) context.out.log("warn", warning);
  const unready = _whyServeRefuses(context, built);
  if (unready) context.out.log("warn", `relay serve cannot start with this file yet: ${unready}`);

  if (existing !== undefined) {
    const secrets = literalSecrets(context.before, setup);
    const diff = formatDiff(redact(existing, secrets), redact(built.text, secrets), {
      from: path,
      to: `${path} (new)`,
    });
    if (diff === "") {
      context.out.outro(`${path} already holds these answers: nothing to change.`);
      return 0;
    }
    context.out.note(diff, "Changes");
    const replace = prompter
      ? await prompter.confirm({
        message: `Write these changes to ${path}? The old file is kept as a backup.`,
        initial: true,
      })
      : true;
    if (!replace) {
      context.out.outro("Nothing was written.");
      return 1;
    }
  }
  const written = await writeFileAtomic(path, built.text, {
    backupAt: existing === undefined ? undefined : new Date(),
    signal,
  });
  context.out.log(
    "success",
    `Wrote ${path} (mode 0600${written.createdFolder ? ", in a new folder with mode 0700" : ""}).` +
      (written.backup ? `\nThe old file is kept as ${written.backup} (mode 0600).` : ""),
  );
  context.out.note(nextSteps(context, built), "Next");
  context.out.outro(
    unready ? "relay is set up once it has what the warning above names." : "relay is set up.",
  );
  return 0;
}

/**
 * What `relay serve` would refuse the file for on this machine as it is now: building the providers
 * looks for their credentials (an AWS chain, a service account file), which the answers only name.
 */
function _whyServeRefuses(context: InitContext, built: Built): string | undefined {
  try {
    routesFromConfig(built.config, context.path, { ...systemEnvironment, env: context.env });
    return undefined;
  } catch (error) {
    return errorMessage(error);
  }
}

function _collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
