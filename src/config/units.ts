import { z } from "zod";

const _DURATION_UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const _SIZE_UNITS: Record<string, number> = { b: 1, kb: 1_000, mb: 1_000_000, kib: 1_024, mib: 1_048_576 };
// Timers take at most 2^31-1 ms (24.8 days) and fire after 1 ms past it, so a longer timeout would
// strike at once; the cap is the whole number of days below that.
const _MAX_DURATION_MS = 24 * _DURATION_UNITS.d;

/**
 * Parses `250ms`, `30s`, `5m`, `1h`, `7d` or a bare number of milliseconds.
 * Returns `undefined` for anything else so callers can word their own error.
 */
export function parseDuration(value: string | number): number | undefined {
  return _parseUnit(value, _DURATION_UNITS, "ms");
}

/** Parses `512kb`, `32MiB`, `1mb` or a bare number of bytes. */
function _parseByteSize(value: string | number): number | undefined {
  return _parseUnit(value, _SIZE_UNITS, "b");
}

function _parseUnit(value: string | number, units: Record<string, number>, bare: string) {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? value : undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  if (!match) return undefined;
  const factor = units[(match[2] || bare).toLowerCase()];
  return factor === undefined ? undefined : Math.round(Number(match[1]) * factor);
}

/** A duration field: `"30s"`, `"5m"` or milliseconds, at most `24d`; parsed to milliseconds. */
export const durationSchema = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === undefined) {
    ctx.addIssue({ code: "custom", message: `"${value}" is not a duration (use e.g. 250ms, 30s, 5m, 1h)` });
    return z.NEVER;
  }
  if (ms > _MAX_DURATION_MS) {
    ctx.addIssue({ code: "custom", message: `"${value}" is too long: relay's timers wait at most 24d` });
    return z.NEVER;
  }
  return ms;
});

/** A size field: `"32MiB"`, `"512kb"` or bytes; parsed to bytes. */
export const byteSizeSchema = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const bytes = _parseByteSize(value);
  if (bytes === undefined) {
    ctx.addIssue({ code: "custom", message: `"${value}" is not a size (use e.g. 512kb, 32MiB)` });
    return z.NEVER;
  }
  return bytes;
});
