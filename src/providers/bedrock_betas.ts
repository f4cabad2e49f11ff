/**
 * Bedrock's refusals of beta flags. Bedrock refuses a whole request, `400 ValidationException` "invalid
 * beta flag", for one beta the model has not taken up (claude-code#30926, #56595, #21676; CLIProxyAPI#4750;
 * Opus 4.7 takes none but interleaved thinking, claude-code#49370, #49648), and Claude Code sends new
 * betas every release, past the first-party ones relay drops (`FIRST_PARTY_ONLY_BETAS`); no client retries a 400. Unlike Vertex's,
 * Bedrock's message names no flag, so the request goes once more with only the betas it needs and those
 * of features Bedrock offers (and, if that is refused too, without its beta fields and their betas), and the model is remembered as one that
 * takes no others with that set of betas: a request with another set (a client's new release, a beta
 * added for one feature) is tried once with its betas again.
 */
import { CONTEXT_1M_BETA } from "../routing/model_map.ts";

/**
 * The betas every resend keeps when the request carries them: the 1M-context beta (relay adds it for a
 * model named with `[1m]`; Claude Code may send it itself), as without it the model would serve a smaller
 * window and say nothing of it. Any other beta is a feature the client may ask for and Bedrock may not
 * have; but those the body's own fields need (`BETA_FIELDS`: `context_management`, `output_config.effort`),
 * which Bedrock refuses by name without them, are kept by the first resend too, and dropped, with those
 * fields, only by a last one when that is refused as well.
 */
export const NEEDED_BETAS: readonly string[] = [CONTEXT_1M_BETA];

/**
 * Betas of model features Bedrock offers (interleaved thinking, on Claude 4 and later; the only beta Opus
 * 4.7 takes, claude-code#49370), which the first resend keeps too when the request carries them: without
 * it a model stops thinking between tool calls, and no one is told. A model that refuses one of them as
 * well is sent the last step, `NEEDED_BETAS` alone.
 */
export const FEATURE_BETAS: readonly string[] = ["interleaved-thinking-2025-05-14"];
