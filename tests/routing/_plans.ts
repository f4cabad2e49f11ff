/** Shared pieces of the Router tests: a provider that is never called, and readers of plan steps. */
import assert from "node:assert/strict";
import type { Provider } from "../../src/providers/types.ts";
import { classifyFailure, type FailureDecision } from "../../src/routing/failure.ts";
import type { Attempt, Step } from "../../src/routing/router.ts";

/** A provider the router can rank; these tests never send through it. */
export function idleProvider(name: string): Provider {
  return { name, type: "test", send: () => Promise.reject(new Error("not sent in router tests")) };
}

/** The attempt a step offers, failing the test when it offers none. */
export function attemptOf(step: Step): Attempt {
  assert.equal(step.kind, "attempt", JSON.stringify(step));
  return (step as Extract<Step, { kind: "attempt" }>).attempt;
}

/** `provider/key` of an attempt, for readable assertions. */
export function where(attempt: Attempt): string {
  return `${attempt.route.provider.name}/${attempt.key?.secret ?? "-"}`;
}

/** The decision for an upstream answering `status` (at the tests' fixed instant). */
export function httpFailure(status: number, headers: Record<string, string> = {}): FailureDecision {
  return classifyFailure({ kind: "http", status, headers: new Headers(headers) }, 1_000_000, 1_000_000);
}

/** Ends `attempt` as an answer that streamed to its end: committed, then finished without a usage block. */
export function answered(attempt: Attempt): void {
  attempt.committed(5);
  attempt.finished(undefined);
}

/** A plan's step while the one open provider's early probe is out: look again in a second, else relay's 503. */
export const PROBE_OUT = {
  kind: "wait",
  waitMs: 1_000,
  retryAfterMs: 1_000,
  otherwise: {
    kind: "exhausted",
    cause: "open",
    reason: "every provider that serves this model is failing (circuit open)",
    retryAfterMs: 1_000,
  },
};
