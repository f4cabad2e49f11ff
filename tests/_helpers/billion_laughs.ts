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
