/** One model an upstream refused a credential, and until when relay does not ask it again. */
export interface ModelRefusal {
  /** The upstream's id for the model, as it was sent. */
  model: string;
  /** On the refusals' clock. */
  until: number;
}

/** How a {@linkcode ModelRefusals} keeps time and bounds itself. */
export interface ModelRefusalsOptions {
  /** Monotonic ms (`performance.now` unless given), which `until` instants are on. */
  now?: () => number;
  /**
   * Models remembered per credential at most (256): a provider without `models:` sends any name a
   * client sends, so refused names must not pile up. Past it, the refusal ending first is forgotten.
   */
  maxPerHolder?: number;
}

/**
 * Which upstream models each credential of a provider was refused (a 403), until when: a key, or
 * `undefined` for the provider's own credential when it has no keys (SigV4, a service account). A
 * refused model leaves the credential in rotation for every other model. The router keeps a second
 * one of these for the models a 429 put at their rate limits, where the upstream limits each model
 * apart (Bedrock, Vertex): the same holders, models and instants, a cooling rather than a refusal.
 *
 * Time is injected and nothing here sleeps: a refusal simply stops counting once its instant passes.
 *
 * @example
 * ```ts
 * const refusals = new ModelRefusals<ProviderKey | undefined>({ now: clock.now });
 * refusals.refuse(key, "us.anthropic.claude-opus-4-1-20250805-v1:0", clock.now() + 300_000);
 * refusals.refusedUntil(key, "us.anthropic.claude-opus-4-1-20250805-v1:0"); // its instant
 * refusals.refusedUntil(key, "us.anthropic.claude-sonnet-4-5-20250929-v1:0"); // undefined
 * ```
 */
export class ModelRefusals<H> {
  readonly #byHolder = new Map<H, Map<string, number>>();
  // The same refusals by model: a request for a model none is refused costs one lookup, however many
  // holders have others refused.
  readonly #byModel = new Map<string, Map<H, number>>();
  readonly #now: () => number;
  readonly #maxPerHolder: number;
  /** When the last refusal held ends: past it, none is held, whether looked up since or not. */
  #latest = -Infinity;
  // The upstream's words for each model refused, the latest said, while some holder is refused it.
  readonly #saidOf = new Map<string, string>();

  constructor(options: ModelRefusalsOptions = {}) {
    this.#now = options.now ?? (() => performance.now());
    this.#maxPerHolder = options.maxPerHolder ?? 256;
  }

  /** Whether no refusal is held at all: the common case, checked before anything else is. */
  get empty(): boolean {
    if (this.#byHolder.size > 0 && this.#latest <= this.#now()) this.clearAll();
    return this.#byHolder.size === 0;
  }

  /**
   * `holder` is refused `model` until `until`; a later refusal already held stands. `said`: the upstream's
   * words, kept for {@linkcode said}.
   */
  refuse(holder: H, model: string, until: number, said?: string): void {
    const now = this.#now();
    for (const [each, ends] of this.#byHolder.get(holder) ?? []) if (ends <= now) this.#forget(holder, each);
    let models = this.#byHolder.get(holder);
    if (!models) this.#byHolder.set(holder, models = new Map());
    const standing = Math.max(models.get(model) ?? until, until);
    models.set(model, standing);
    let holders = this.#byModel.get(model);
    if (!holders) this.#byModel.set(model, holders = new Map());
    holders.set(holder, standing);
    if (said !== undefined) this.#saidOf.set(model, said);
    this.#latest = Math.max(this.#latest, until);
    if (models.size > this.#maxPerHolder) {
      const soonest = [...models].reduce((first, entry) => entry[1] < first[1] ? entry : first);
      this.#forget(holder, soonest[0]);
    }
  }

  /** Until when `holder` is refused `model`, or `undefined` when it is not (or no longer). */
  refusedUntil(holder: H, model: string | undefined): number | undefined {
    // A request that names no model (the model list) is refused none.
    if (this.#byHolder.size === 0 || model === undefined) return undefined;
    const until = this.#byModel.get(model)?.get(holder);
    if (until === undefined) return undefined;
    if (until > this.#now()) return until;
    this.#forget(holder, model);
    return undefined;
  }

  /**
   * The holders refused `model` and until when, those that ended forgotten on the way: `undefined`, in
   * one lookup, when none is. For a caller going through the holders of one model rather than asking of
   * each of its own; read only, and only until the next change.
   */
  holdersOf(model: string | undefined): ReadonlyMap<H, number> | undefined {
    const holders = model === undefined ? undefined : this.#byModel.get(model);
    if (holders === undefined) return undefined;
    const now = this.#now();
    for (const [holder, until] of holders) if (until <= now) this.#forget(holder, model!);
    return holders.size === 0 ? undefined : holders;
  }

  /** The upstream's latest words refusing `model`, while a refusal of it stands and they were given. */
  said(model: string): string | undefined {
    return this.holdersOf(model) === undefined ? undefined : this.#saidOf.get(model);
  }

  /** Forgets the refusals of `holder`: an operator switched it on again, and expects it asked now. */
  clear(holder: H): void {
    for (const model of this.#byHolder.get(holder)?.keys() ?? []) this.#forget(holder, model);
  }

  /** Forgets every refusal: the provider was switched on again. */
  clearAll(): void {
    this.#byHolder.clear();
    this.#byModel.clear();
    this.#saidOf.clear();
  }

  /** The refusals of `holder` still standing, soonest to end first. */
  list(holder: H): ModelRefusal[] {
    const now = this.#now();
    return [...this.#byHolder.get(holder) ?? []]
      .filter(([, until]) => until > now)
      .map(([model, until]) => ({ model, until }))
      .sort((a, b) => a.until - b.until);
  }

  #forget(holder: H, model: string): void {
    const models = this.#byHolder.get(holder);
    models?.delete(model);
    if (models?.size === 0) this.#byHolder.delete(holder);
    const holders = this.#byModel.get(model);
    holders?.delete(holder);
    if (holders?.size !== 0) return;
    this.#byModel.delete(model);
    this.#saidOf.delete(model);
  }
}
