import type { BreakerChange, KeyDisabled } from "../routing/router.ts";
import type { UsageDetail } from "../stream/usage_tap.ts";
import type { LogFields, Logger } from "../util/logger.ts";

/** One ended request: its access log line, the config version it ran on and its usage, if reported. */
export interface RequestSummary {
  line: LogFields;
  configVersion?: number;
  usage?: UsageDetail;
}

/** How a reload went: `version` is the config now serving, the new one when it worked. */
export interface ReloadOutcome {
  ok: boolean;
  version: number;
  /** What asked for it: `SIGHUP`, `file changed`, `admin API`. */
  reason: string;
  error?: string;
}

/** A provider or key switched on or off at runtime. */
export interface SwitchChange {
  provider: string;
  /** The key's label, as logs show it (`main (sk-ant-...x7f2)`). */
  key?: string;
  enabled: boolean;
}

/**
 * What relay tells its observers (metrics, the admin event stream) through one `EventBus` per
 * server: ended requests and changes of state.
 *
 * @example
 * ```ts
 * const events = new EventBus<RelayEvent>();
 * events.listen((event) => event.type === "breaker" && console.log(event.data.to));
 * ```
 */
export type RelayEvent =
  | { type: "request"; data: RequestSummary }
  | { type: "breaker"; data: BreakerChange }
  | { type: "reload"; data: ReloadOutcome }
  | { type: "switch"; data: SwitchChange }
  | { type: "key_disabled"; data: KeyDisabled };

/**
 * Writes an ended request's access line and hands it to `onRequest` (metrics, the admin event stream).
 * A listener that throws is logged, never the request's failure: this runs inside a stream's end,
 * where a throw would skip the accounting after it, and with it the release of the request's slot.
 *
 * @example
 * ```ts
 * logRequest(logger, onRequest, { request_id: "relay_1", status: 404, outcome: "relay_error" });
 * ```
 */
export function logRequest(
  logger: Logger,
  onRequest: ((line: LogFields, usage: UsageDetail | undefined) => void) | undefined,
  line: LogFields,
  usage?: UsageDetail,
): void {
  logger.info("request", line);
  try {
    onRequest?.(line, usage);
  } catch (error) {
    logger.error("request listener failed", { request_id: line.request_id, error: String(error) });
  }
}
