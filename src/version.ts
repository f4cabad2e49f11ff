/** relay's version, printed by `relay --version` and sent in the `user-agent` of relay's own calls. */
export const VERSION = "0.1.0";
