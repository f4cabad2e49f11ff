/**
 * Writes milliseconds back the way a config file would say them, so summaries and warnings quote the
 * user's own units.
 *
 * @example
 * ```ts
 * formatDuration(300_000); // "5m"
 * formatDuration(1_500); // "1.5s"
 * formatDuration(250); // "250ms"
 * ```
 */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms >= 1_000) return `${ms / 1_000}s`;
  return `${ms}ms`;
}

/**
 * Writes a byte count in the binary units config files use.
 *
 * @example
 * ```ts
 * formatByteSize(33_554_432); // "32MiB"
 * formatByteSize(1_000); // "1000 bytes"
 * ```
 */
export function formatByteSize(bytes: number): string {
  if (bytes !== 0 && bytes % 1_048_576 === 0) return `${bytes / 1_048_576}MiB`;
  if (bytes !== 0 && bytes % 1_024 === 0) return `${bytes / 1_024}KiB`;
  return `${bytes} bytes`;
}
