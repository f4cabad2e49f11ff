/**
 * relay in front of a fake OpenAI-compatible upstream, for end-to-end tests of the `openai` provider type:
 * every Claude model served as one upstream model, with relay's key.
 */
import { createOpenAIProvider, type OpenAIProviderOptions } from "../../src/providers/openai.ts";
import { FAKE_OPENAI_KEY, startFakeOpenAI } from "./fake_openai.ts";
import type { FakeHandler, FakeUpstream } from "./fake_upstream.ts";
import { startTestRelay, type TestRelay } from "./relay.ts";

/**
 * A fake upstream answering with `handler`, and relay serving `claude-*` from it as `upstreamModel`;
 * disposed, relay stops, then the upstream.
 *
 * @example
 * ```ts
 * await using setup = startOpenAIRelay(fakeOpenAIHandler, "gpt-fake-1");
 * await fetch(`${setup.relay.url}/v1/messages`, { method: "POST", body });
 * ```
 */
export function startOpenAIRelay(
  handler: FakeHandler,
  upstreamModel: string,
  options: Partial<OpenAIProviderOptions> = {},
): { upstream: FakeUpstream; relay: TestRelay } & AsyncDisposable {
  const upstream = startFakeOpenAI(handler);
  const provider = createOpenAIProvider({ name: "upstream", baseUrl: `${upstream.url}/v1`, ...options });
  const relay = startTestRelay({ provider, keys: [FAKE_OPENAI_KEY], models: { "claude-*": upstreamModel } });
  return {
    upstream,
    relay,
    async [Symbol.asyncDispose]() {
      await relay[Symbol.asyncDispose]();
      await upstream.close();
    },
  };
}
