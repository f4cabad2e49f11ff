import type { BreakerChange } from "../routing/router.ts";
import type { UsageDetail } from "../stream/usage_tap.ts";
import type { LogFields } from "../util/logger.ts";

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
  | { type: "switch"; data: SwitchChange };
