import assert from "node:assert/strict";
import { configSchema } from "../../src/config/schema.ts";
import { ConcurrencyLimiter } from "../../src/routing/concurrency.ts";
import { classifyFailure } from "../../src/routing/failure.ts";
import { adminStatus } from "../../src/server/admin/status.ts";
import { InFlight } from "../../src/server/in_flight.ts";
import { Runtime } from "../../src/server/runtime.ts";
import { EventBus } from "../../src/util/event_bus.ts";
import { createLogger } from "../../src/util/logger.ts";
import { FakeClock } from "../_helpers/fake_clock.ts";

Deno.test("the admin status lists the models a Bedrock key is at its rate limit for, and only then", () => {
  const clock = new FakeClock(1_000_000);
  const wall = Date.parse("2026-11-25T12:00:00.000Z");
  const runtime = new Runtime({
    config: configSchema.parse({
      providers: [{
        name: "bedrock",
        type: "bedrock",
        region: "us-east-1",
        keys: [{ key: "ABSKQmVkcm9ja0FQSUtleS1leGFtcGxl" }],
        models: { opus: "us.anthropic.claude-opus-4-1-v1:0" },
      }],
    }),
    path: "/etc/relay.yaml",
    load: () => Promise.reject(new Error("unused")),
    logger: () => createLogger({ write: () => {} }),
    events: new EventBus(),
    now: () => wall + clock.now() - 1_000_000,
    monotonic: clock.now,
  });
  const status = () =>
    adminStatus({
      runtime,
      limiter: new ConcurrencyLimiter({ max: 4, maxQueue: 4 }),
      inFlight: new InFlight(),
      started: { at: wall, monotonic: clock.now() },
      wallClock: () => wall + clock.now() - 1_000_000,
    });
  const [before] = status().providers;
  assert.equal("cooled_models" in before.keys[0] || "cooled_models" in before, false);

  const { router } = runtime.current;
  const step = router.plan({ model: "opus", estimate: { input: 1, output: 1 }, conversation: undefined })
    .next();
  assert.equal(step.kind, "attempt");
  const outcome = { kind: "http", status: 429, headers: new Headers({ "retry-after": "60" }) } as const;
  // The router a runtime builds runs on the runtime's clocks: here the fake ones.
  const failed = classifyFailure(outcome, clock.now(), wall);
  (step as Extract<typeof step, { kind: "attempt" }>).attempt.failed(failed);
  const [provider] = status().providers;
  assert.deepEqual(provider.keys[0].cooled_models, [{
    model: "us.anthropic.claude-opus-4-1-v1:0",
    until: "2026-11-25T12:01:00.000Z",
  }]);
  assert.equal(provider.keys[0].cooling_until, null, "the key itself is not cooling");
  assert.equal(provider.cooled_models, undefined, "a provider with keys holds none of its own");

  clock.advance(59_999);
  assert.equal(status().providers[0].keys[0].cooled_models?.[0].until, "2026-11-25T12:01:00.000Z");
  clock.advance(1);
  const [after] = status().providers;
  assert.equal("cooled_models" in after.keys[0] || "cooled_models" in after, false, "its minute over");
});
