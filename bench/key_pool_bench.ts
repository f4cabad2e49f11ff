import { KeyPool } from "../src/routing/key_pool.ts";
import { estimateTokens } from "../src/routing/token_estimate.ts";
import { claudeCodeBody } from "./_fixtures.ts";

const body = JSON.parse(new TextDecoder().decode(claudeCodeBody(400 * 1024)));
const kib = Math.round(JSON.stringify(body).length / 1024);
const estimate = estimateTokens(body);

// Limits far above what a bench can spend, so every pick finds a key and the windows do their counting.
for (const size of [1, 4, 16]) {
  const pool = new KeyPool(
    Array.from({ length: size }, (_, i) => ({ key: `sk-bench-${i}`, limits: { rpm: 1e12, tpm: 1e15 } })),
  );
  Deno.bench({
    name: `pick + settle, ${size} key${size === 1 ? "" : "s"}`,
    group: "key selection",
    baseline: size === 1,
    fn() {
      const pick = pool.pick(estimate);
      if (pick.kind !== "key") throw new Error(`no key: ${pick.kind}`);
      pool.settle(pick.reservation, { input: estimate.input, output: 100 });
    },
  });
}

Deno.bench({
  name: `JSON.stringify, ${kib} KiB body`,
  group: "token estimate",
  baseline: true,
  fn: () => void JSON.stringify(body),
});

Deno.bench({
  name: `estimateTokens, ${kib} KiB body`,
  group: "token estimate",
  fn: () => void estimateTokens(body),
});
