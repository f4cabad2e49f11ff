/**
 * Dollars as relay shows them to people (`relay usage`, `relay status`, a client's budget refusals): to
 * the cent, and an amount under a cent to a hundredth of one, so what a few cheap requests cost never
 * reads as nothing. Costs are never negative.
 *
 * @example
 * ```ts
 * formatUsd(12.345); // "$12.35"
 * formatUsd(0.0042); // "$0.0042"
 * formatUsd(0.00996); // "$0.01"
 * formatUsd(0.00001); // "<$0.0001"
 * formatUsd(0); // "$0.00"
 * ```
 */
export function formatUsd(usd: number): string {
  if (!(usd > 0) || usd >= 0.01) return `$${usd.toFixed(2)}`;
  const fraction = usd.toFixed(4);
  if (fraction === "0.0000") return "<$0.0001";
  // Rounded up to a whole cent (from $0.00995 on): shown to the cent, as cents are.
  return fraction === "0.0100" ? "$0.01" : `$${fraction}`;
}
