/**
 * A fake OpenAI-compatible upstream for end-to-end tests: `POST /v1/chat/completions` answered in the
 * shapes OpenAI streams (role chunk, content or tool call fragments split across chunks, a finish
 * chunk, the `choices: []` usage chunk, `[DONE]`), deterministically from the request.
 */
import { type FakeHandler, type FakeUpstream, sseChunks, startFakeUpstream } from "./fake_upstream.ts";

export const FAKE_OPENAI_KEY = "sk-proj-fake-openai-key-0000000000x9q1";

const _BASE = {
  id: "chatcmpl-Fake0123456789",
  object: "chat.completion.chunk",
  created: 1767225600,
  model: "gpt-fake-1",
  system_fingerprint: "fp_fake01",
};

/**
 * One streamed chunk of choice 0.
 *
 * @example
 * ```ts
 * chunk({ content: "Hi" }); // {..., choices: [{ index: 0, delta: { content: "Hi" }, logprobs: null, finish_reason: null }]}
 * ```
 */
export function chunk(delta: Record<string, unknown>, finishReason: string | null = null) {
  return { ..._BASE, choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }] };
}

/** The extra chunk `stream_options.include_usage` asks for. */
export function usageChunk(usage: Record<string, unknown>) {
  return { ..._BASE, choices: [], usage };
}

/**
 * A `text/event-stream` response sending each payload as its own `data:` write (strings verbatim, for
 * `[DONE]` or deliberately broken data).
 *
 * @example
 * ```ts
 * startFakeUpstream(() => openaiStream([chunk({ role: "assistant", content: "" }), chunk({}, "stop"), "[DONE]"]));
 * ```
 */
export function openaiStream(payloads: (object | string)[], init?: ResponseInit): Response {
  return sseChunks(
    payloads.map((payload) => `data: ${typeof payload === "string" ? payload : JSON.stringify(payload)}\n\n`),
    init,
  );
}

/** Usage as OpenAI reports it, with a cached prefix. */
export const FAKE_USAGE = {
  prompt_tokens: 1200,
  completion_tokens: 42,
  total_tokens: 1242,
  prompt_tokens_details: { cached_tokens: 1024, audio_tokens: 0 },
  completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0 },
};

/** The fake's text answer, cut into the deltas it streams. */
export const FAKE_TEXT = ["Hello", " from", " the fake", " upstream:", " café", " 🎉"];

// deno-lint-ignore no-explicit-any
type _Json = any;

/**
 * What the fake model does with a request: when tools are offered and no tool has answered yet, it calls the first two tools in parallel (the second with an id Anthropic would refuse, as
 * Kimi's `functions.name:1` ids are), filling required string properties with "Paris"; a tool without
 * required properties gets empty arguments. Otherwise it answers {@linkcode FAKE_TEXT}.
 */
export function fakeOpenAIPayloads(body: _Json): object[] {
  const tools: _Json[] = (body.tools ?? []).slice(0, 2);
  const answered = body.messages.some((message: _Json) => message.role === "tool");
  const payloads: object[] = [chunk({ role: "assistant", content: "", refusal: null })];
  if (tools.length > 0 && !answered && body.tool_choice !== "none") {
    tools.forEach((tool, index) => {
      const name = tool.function.name;
      const required: string[] = tool.function.parameters?.required ?? [];
      const args = required.length
        ? JSON.stringify(Object.fromEntries(required.map((key) => [key, "Paris"])))
        : "";
      const id = index === 0 ? "call_fake_0001" : `functions.${name}:${index}`;
      payloads.push(
        chunk({ tool_calls: [{ index, id, type: "function", function: { name, arguments: "" } }] }),
      );
      for (let start = 0; start < args.length; start += 5) {
        payloads.push(
          chunk({ tool_calls: [{ index, function: { arguments: args.slice(start, start + 5) } }] }),
        );
      }
    });
    payloads.push(chunk({}, "tool_calls"));
  } else {
    for (const content of FAKE_TEXT) payloads.push(chunk({ content }));
    payloads.push(chunk({}, "stop"));
  }
  if (body.stream_options?.include_usage) payloads.push(usageChunk(FAKE_USAGE));
  return payloads;
}

/** The same answer, unstreamed. */
function _completion(body: _Json) {
  const calls = new Map<number, _Json>();
  let content = "";
  let finish = "stop";
  for (const payload of fakeOpenAIPayloads(body) as _Json[]) {
    const choice = payload.choices[0];
    if (!choice) continue;
    content += choice.delta.content ?? "";
    finish = choice.finish_reason ?? finish;
    for (const fragment of choice.delta.tool_calls ?? []) {
      const call = calls.get(fragment.index) ??
        { id: fragment.id, type: "function", function: { name: fragment.function.name, arguments: "" } };
      call.function.arguments += fragment.function.arguments ?? "";
      calls.set(fragment.index, call);
    }
  }
  const message = {
    role: "assistant",
    content: content || null,
    refusal: null,
    ...(calls.size ? { tool_calls: [...calls.values()] } : {}),
  };
  return {
    ..._BASE,
    object: "chat.completion",
    choices: [{ index: 0, message, logprobs: null, finish_reason: finish }],
    usage: FAKE_USAGE,
  };
}

/** OpenAI's error body. */
export function openaiError(
  status: number,
  message: string,
  type: string,
  headers: HeadersInit = {},
): Response {
  return Response.json({ error: { message, type, param: null, code: null } }, { status, headers });
}

/** The fake model over HTTP: checks the path and the bearer key, then answers as {@linkcode fakeOpenAIPayloads} says. */
export const fakeOpenAIHandler: FakeHandler = async (request) => {
  if (new URL(request.url).pathname !== "/v1/chat/completions") {
    return openaiError(404, `Unknown request URL: ${new URL(request.url).pathname}`, "invalid_request_error");
  }
  if (request.headers.get("authorization") !== `Bearer ${FAKE_OPENAI_KEY}`) {
    return openaiError(401, "Incorrect API key provided", "invalid_request_error");
  }
  const body = await request.json();
  if (!body.stream) return Response.json(_completion(body), { headers: { "x-request-id": "req_fake_1" } });
  return openaiStream([...fakeOpenAIPayloads(body), "[DONE]"], { headers: { "x-request-id": "req_fake_1" } });
};

/**
 * Starts a fake OpenAI-compatible upstream; its base URL for a provider is `${url}/v1`.
 *
 * @example
 * ```ts
 * const upstream = startFakeOpenAI();
 * const provider = createOpenAIProvider({ name: "openai", baseUrl: `${upstream.url}/v1` });
 * ```
 */
export function startFakeOpenAI(handler: FakeHandler = fakeOpenAIHandler): FakeUpstream {
  return startFakeUpstream(handler);
}

/**
 * A `fetch` for an OpenAI adapter under test, with no server: each Chat Completions body it is given is
 * kept, parsed, in `sent`, and `answer` makes the response from those sent so far.
 *
 * @example
 * ```ts
 * const upstream = recordingFetch(() => openaiStream(["[DONE]"]));
 * const provider = createOpenAIProvider({ name: "u", baseUrl: "http://127.0.0.1:9/v1", fetch: upstream.fetch });
 * ```
 */
export function recordingFetch(answer: (sent: _Json[]) => Response): { fetch: typeof fetch; sent: _Json[] } {
  const sent: _Json[] = [];
  return {
    sent,
    fetch: (_input, init) => {
      sent.push(JSON.parse(String(init!.body)));
      return Promise.resolve(answer(sent));
    },
  };
}
