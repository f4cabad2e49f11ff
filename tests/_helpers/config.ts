import assert from "node:assert/strict";
import { configSchema } from "../../src/config/schema.ts";

/** The schema's issues for `input`, as `path: message` lines; fails when it is not refused. */
export function issuesOf(input: unknown): string[] {
  const result = configSchema.safeParse(input);
  assert.equal(result.success, false, "expected the config to be refused");
  return result.error!.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
}
