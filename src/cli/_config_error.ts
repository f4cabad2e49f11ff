import { ConfigError } from "../config/errors.ts";

/** Prints a config refusal the way every command does, or rethrows what is not one. */
export function reportConfigError(error: unknown): number {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  return 1;
}
