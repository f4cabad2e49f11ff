/**
 * The optional check of each key with one real call before the file is written: a rejected key is
 * asked again or refuses the save, an unreachable upstream never blocks it.
 */
import type { ConfigSetup, ProviderSetup } from "../../config/edit.ts";
import type { UpstreamProviderConfig } from "../../config/schema.ts";
import { checkKey, type KeyCheck } from "../../providers/validate_key.ts";
import { build, type Built, references } from "./build.ts";
import type { InitContext } from "./context.ts";
import { answerQuestion } from "./flags.ts";
import { kindOf } from "./providers.ts";
import { askKey } from "./questions.ts";

/**
 * Offers to try every key that can be tried, and does. A rejected key is asked again at a terminal and
 * refuses the save without one; an unreachable upstream never blocks it.
 */
export async function checkKeys(
  context: InitContext,
  setup: ConfigSetup,
  built: Built,
  flag: boolean | undefined,
): Promise<Built | "refused"> {
  const checkable = setup.providers.filter((p) => kindOf(p.type)?.checksKey && p.key !== undefined);
  if (checkable.length === 0) return built;
  const check = await answerQuestion(context, {
    flag: "--validate",
    given: flag,
    suggested: false,
    ask: (prompter) =>
      prompter.confirm({
        message: `Check the ${checkable.map((p) => p.name).join(", ")} key with one real call ` +
          "(GET /v1/models, no tokens spent)?",
        initial: true,
      }),
  });
  if (!check) return built;
  for (const provider of checkable) {
    for (;;) {
      const result = await _checkOne(context, provider, built);
      if (result?.outcome !== "rejected") break;
      if (!context.prompter) {
        context.out.log("error", "Nothing was written: fix the key, or leave out --validate.");
        return "refused";
      }
      const retry = await context.prompter.confirm({
        message: `Enter another ${provider.name} key?`,
        initial: true,
      });
      if (!retry) {
        context.out.log("error", `Nothing was written: ${provider.name}'s key was rejected.`);
        return "refused";
      }
      const kind = kindOf(provider.type)!;
      provider.key = await askKey(context.prompter, context, provider, kind, {
        current: provider.key,
        again: true,
      });
      built = build(context, setup);
    }
  }
  return built;
}

async function _checkOne(
  context: InitContext,
  provider: ProviderSetup,
  built: Built,
): Promise<KeyCheck | undefined> {
  const unset = references(provider.key ?? "").filter((name) => built.unset.includes(name));
  if (unset.length > 0) {
    context.out.log(
      "warn",
      `${provider.name}: key not checked: ${unset.join(", ")} is not set in this shell`,
    );
    return undefined;
  }
  const config = built.config.providers.find((p) => p.name === provider.name) as UpstreamProviderConfig;
  context.out.log("step", `${provider.name}: trying the key at ${config.base_url} ...`);
  const result = await checkKey(config, config.keys[0].key, { signal: context.signal });
  const [kind, text] = _OUTCOMES[result.outcome];
  context.out.log(kind, `${provider.name}: ${text} (${result.detail})`);
  return result;
}

const _OUTCOMES: Record<KeyCheck["outcome"], ["success" | "warn" | "error", string]> = {
  works: ["success", "the key works"],
  rejected: ["error", "the key was rejected"],
  unreachable: ["warn", "unreachable, so the key is unchecked; the config is saved anyway"],
  unexpected: ["warn", "could not tell whether the key works"],
};
