import assert from "node:assert/strict";
import { parseConfig } from "../../src/config/load.ts";
import { durationSchema } from "../../src/config/units.ts";

Deno.test("durationSchema takes up to 24d and refuses longer, which a timer would fire at once", () => {
  assert.equal(durationSchema.parse("24d"), 2_073_600_000);
  for (const long of ["25d", "30d", "1000h", 2 ** 31]) {
    const parsed = durationSchema.safeParse(long);
    assert.ok(!parsed.success, String(long));
    assert.equal(parsed.error.issues[0].message, `"${long}" is too long: relay's timers wait at most 24d`);
  }
});

Deno.test("a duration over 24d is refused at its line and column", () => {
  const text = "timeouts:\n  first_byte: 30d\nproviders:\n  - name: mock\n    type: mock\n";
  assert.throws(() => parseConfig(text, "relay.yaml", () => undefined), {
    name: "ConfigError",
    message: `relay.yaml:2:15: timeouts.first_byte: "30d" is too long: relay's timers wait at most 24d`,
  });
});
