/** How {@linkcode formatTable} lays out its columns. */
export interface TableOptions {
  /** How many columns, from the first, are left-aligned; the rest (figures) are right-aligned. All. */
  left?: number;
  /** Colours a cell once it is padded, so escape codes never skew the widths. */
  paint?: (padded: string, row: number, column: number) => string;
}

/**
 * Rows as aligned columns two spaces apart, without trailing blanks.
 *
 * @example
 * ```ts
 * formatTable([["NAME", "IN FLIGHT"], ["anthropic", "3"]], { left: 1 });
 * // "NAME       IN FLIGHT\nanthropic          3"
 * ```
 */
export function formatTable(rows: string[][], options: TableOptions = {}): string {
  const columns = Math.max(0, ...rows.map((row) => row.length));
  const left = options.left ?? columns;
  const widths = Array.from(
    { length: columns },
    (_, column) => Math.max(...rows.map((row) => (row[column] ?? "").length)),
  );
  const paint = options.paint ?? ((padded) => padded);
  return rows.map((row, index) =>
    widths.map((width, column) => {
      const cell = row[column] ?? "";
      return paint(column < left ? cell.padEnd(width) : cell.padStart(width), index, column);
    }).join("  ").trimEnd()
  ).join("\n");
}
