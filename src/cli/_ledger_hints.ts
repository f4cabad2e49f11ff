/**
 * What `relay serve` and `relay check` tell to do about a ledger relay cannot open: one wording for
 * both, since check says what serve would.
 */

/** For a ledger a config file asks for, which serve refuses to start without. */
export const LEDGER_PATH_HINT = "set ledger.path to a writable file, or ledger.enabled: false";

/** For the built-in default ledger, with no config file: serve starts without recording usage. */
export const DEFAULT_LEDGER_HINT =
  "make its folder writable, or write a config file (relay init) with ledger.path or ledger.enabled: false";
