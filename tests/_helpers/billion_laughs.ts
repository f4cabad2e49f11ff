/**
 * A "billion laughs": nine mapping entries, each a list of nine aliases of the one before, so
 * the last stands for 9^9 strings. Each entry is written at `indent`, its first alias on the second line.
 */
export function billionLaughs(indent = ""): string {
  const names = [..."abcdefghi"];
  const lines = [`${indent}a: &a [${Array(9).fill("lol").join(", ")}]`];
  for (const [i, name] of names.slice(1).entries()) {
    lines.push(`${indent}${name}: &${name} [${Array(9).fill(`*${names[i]}`).join(", ")}]`);
  }
  return lines.join("\n") + "\n";
}

/**
 * What a billion laughs must not be taken for: a providers list whose first entry, `base`, holds a
 * `timeouts` mapping the `count` after it share through an alias each. Its items are written at `indent`
 * under `providers:`.
 */
export function sharedTimeouts(count: number, indent = "  "): string {
  const aliases = Array.from(
    { length: count },
    (_, i) => `${indent}- { name: p${i}, type: mock, timeouts: *t }\n`,
  );
  return `providers:\n${indent}- name: base\n${indent}  type: mock\n${indent}  timeouts: &t { connect: 20s }\n` +
    aliases.join("");
}
