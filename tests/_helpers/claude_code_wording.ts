/**
 * The wordings Claude Code 2.1.328 acts on, as its binary matches them: on the first it lowers
 * `max_tokens` to the cap it reads and sends again (matched against the error's message alone, one
 * line), on the second to what the window leaves. It compacts only on `prompt is too long`.
 */
export const CLAUDE_CODE_OUTPUT_CAP =
  /^max_tokens: \d+ > (\d+), which is the maximum allowed number of output tokens for .+$/;
export const CLAUDE_CODE_CONTEXT_LIMIT =
  /input length and `max_tokens` exceed context limit: (\d+) \+ (\d+) > (\d+)/;
