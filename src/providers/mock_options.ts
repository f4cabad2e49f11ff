import { z } from "zod";
import { durationSchema } from "../config/units.ts";

/** The failures a mock answer can act out (`fault`), as `relay bench` and tests ask for them. */
export const MOCK_FAULTS = [
  "none",
  "overloaded", // 529 overloaded_error before any byte
  "rate_limit", // 429 rate_limit_error with retry-after
  "server_error", // 500 api_error
  "mid_stream_error", // `event: error` after `fault_after` events
  "disconnect", // body cut after `fault_after` events, no message_stop
  "hang", // headers and message_start, then silence until the client leaves
] as const;

/** The most `text_delta` events one mock answer may have. */
export const MAX_MOCK_EVENTS = 100_000;

/**
 * The knobs of the built-in `mock` provider. They come from `providers[].mock` in the config and can be
 * overridden per request with the `x-relay-mock` header (`events=20, chunk_delay=5ms, fault=disconnect`),
 * which is how tests and `relay bench` shape a run without a config file per case.
 */
export const mockOptionsSchema = z.strictObject({
  /** Wait before the response headers (time to first byte). */
  ttfb: durationSchema.default(0),
  /** Wait between two SSE events. */
  chunk_delay: durationSchema.default(0),
  /** How many `text_delta` events the answer has. */
  events: z.number().int().min(1).max(MAX_MOCK_EVENTS).default(8),
  fault: z.enum(MOCK_FAULTS).default("none"),
  /** Events sent before a mid-stream fault. */
  fault_after: z.number().int().min(0).default(2),
});

export type MockOptions = z.output<typeof mockOptionsSchema>;
