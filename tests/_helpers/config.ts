import assert from "node:assert/strict";
import { ConfigError } from "../../src/config/errors.ts";
import { configSchema } from "../../src/config/schema.ts";

/** The schema's issues for `input`, as `path: message` lines; fails when it is not refused. */
export function issuesOf(input: unknown): string[] {
  const result = configSchema.safeParse(input);
  assert.equal(result.success, false, "expected the config to be refused");
  return result.error!.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
}

/**
 * For `assert.throws` and `assert.rejects`: the error is a `ConfigError` whose message is `message`
 * (a string) or matches it (a pattern), and, given `file`, names that file.
 */
export function configErrorWith(message: string | RegExp, file?: string): (error: unknown) => true {
  return (error) => {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    if (typeof message === "string") assert.equal(error.message, message);
    else assert.match(error.message, message);
    if (file !== undefined) assert.equal(error.file, file);
    return true;
  };
}
