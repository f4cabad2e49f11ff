import stringWidth from "string-width";

/** How {@linkcode formatTable} lays out its columns. */
export interface TableOptions {
  /** How many columns, from the first, are left-aligned; the rest (figures) are right-aligned. All. */
  left?: number;
  /** Colours a cell once it is padded, so escape codes never skew the widths. */
  paint?: (padded: string, row: number, column: number) => string;
  /** The row a rule as wide as the table is drawn above: a total's, which no row above can then pass for. */
  ruleAbove?: number;
}

/**
 * Rows as aligned columns two spaces apart, without trailing blanks. Cells are measured in terminal
 * columns: a CJK character takes two, a combining mark none.
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
  const cellWidths = rows.map((row) =>
    Array.from({ length: columns }, (_, column) => stringWidth(row[column] ?? ""))
  );
  const widths = Array.from(
    { length: columns },
    (_, column) => Math.max(...cellWidths.map((row) => row[column])),
  );
  const paint = options.paint ?? ((padded) => padded);
  const lines = rows.map((row, index) =>
    widths.map((width, column) => {
      const cell = row[column] ?? "";
      const padding = " ".repeat(width - cellWidths[index][column]);
      return paint(column < left ? cell + padding : padding + cell, index, column);
    }).join("  ").trimEnd()
  );
  if (options.ruleAbove !== undefined) {
    const tableWidth = widths.reduce((sum, width) => sum + width + 2, -2);
    lines.splice(options.ruleAbove, 0, "-".repeat(Math.max(0, tableWidth)));
  }
  return lines.join("\n");
}

const _graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/**
 * `text` cut to at most `columns` terminal columns by leaving out its middle, marked `…`: the start and the
 * end are what tell names apart (a key's label and its id, Bedrock ARNs that differ only in the model at
 * the end). Never cut inside a character as it is shown (a letter with its accents, a wide character): for
 * a cell a client chose, which could otherwise widen every row of a table to its own length.
 *
 * @example
 * ```ts
 * cutToWidth("claude-sonnet-4-5", 10); // "clau…t-4-5"
 * cutToWidth("模型名字", 6); // "模…字"
 * ```
 */
export function cutToWidth(text: string, columns: number): string {
  if (stringWidth(text) <= columns) return text;
  const graphemes = Array.from(_graphemes.segment(text), ({ segment }) => segment);
  // The end gets the odd column, and any the start could not use for a wide character at its edge.
  const room = columns - 1;
  let start = 0;
  let startWidth = 0;
  for (;;) {
    const width = stringWidth(graphemes[start]);
    if (startWidth + width > Math.floor(room / 2)) break;
    startWidth += width;
    start++;
  }
  let end = graphemes.length;
  let endWidth = 0;
  for (;;) {
    const width = stringWidth(graphemes[end - 1]);
    if (endWidth + width > room - startWidth) break;
    endWidth += width;
    end--;
  }
  return `${graphemes.slice(0, start).join("")}…${graphemes.slice(end).join("")}`;
}
