/**
 * What a response body fails with when relay breaks its client's transfer off on purpose (an upstream
 * answer cut off where nothing could be appended): the transfer breaks as the upstream's did, the
 * access line tells why, and the server logs nothing more. `cause` is the upstream's failure.
 *
 * @example
 * ```ts
 * controller.error(new BodyCutError("upstream anthropic sent nothing for 300000 ms", { cause: error }));
 * ```
 */
export class BodyCutError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "BodyCutError";
  }
}

/**
 * A {@linkcode BodyCutError} for an answer that failed mid-event: what went wrong is the answer's, told
 * here because nothing could be appended to half an event. A stage reading the answer whole events at a
 * time (the front door's translation) can still tell its own client, unlike after a client stalled.
 *
 * @example
 * ```ts
 * controller.error(new AnswerCutError("upstream anthropic ended the stream before message_stop", "api_error"));
 * ```
 */
export class AnswerCutError extends BodyCutError {
  /** `errorType`: the Anthropic error type the event relay could not append would have had. */
  constructor(message: string, readonly errorType: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "AnswerCutError";
  }
}
