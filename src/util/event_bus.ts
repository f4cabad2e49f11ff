/** Why a {@linkcode Subscription} ended: its buffer filled up, or the bus was closed. */
export type SubscriptionEnd = "too_slow" | "closed";

/** One subscriber's events, from the moment it subscribed. */
export interface Subscription<E> {
  /** Read it or lose it: events that find its buffer full end the subscription. */
  readonly events: ReadableStream<E>;
  /** Why the bus ended it; `undefined` while it runs or after the reader cancelled. */
  readonly ended: SubscriptionEnd | undefined;
}

/** How much a {@linkcode EventBus} holds for each subscriber. */
export interface EventBusOptions {
  /** Events a subscriber may leave unread before it is dropped; 256. */
  bufferSize?: number;
}

interface _Subscriber<E> {
  controller: ReadableStreamDefaultController<E>;
  end(reason: SubscriptionEnd): void;
}

/**
 * Fans events out to listeners called on the spot (metrics: cheap, synchronous) and to subscribers
 * reading at their own pace (a live event stream over HTTP). Publishing never waits: each subscriber
 * has a bounded buffer, and one that lets it fill is dropped, its stream closed after what it holds,
 * rather than slow down the requests that publish.
 *
 * @example
 * ```ts
 * const bus = new EventBus<{ type: string }>({ bufferSize: 64 });
 * bus.listen((event) => counters.inc(event.type));
 * const { events } = bus.subscribe();
 * bus.publish({ type: "reload" });
 * for await (const event of events) console.log(event.type);
 * ```
 */
export class EventBus<E> {
  readonly #bufferSize: number;
  readonly #listeners = new Set<(event: E) => void>();
  readonly #subscribers = new Set<_Subscriber<E>>();
  #closed = false;

  /** An open bus with no one listening. */
  constructor(options: EventBusOptions = {}) {
    this.#bufferSize = options.bufferSize ?? 256;
    if (!(this.#bufferSize >= 1)) throw new RangeError("bufferSize must be at least 1");
  }

  /** Subscribers reading now. */
  get subscribers(): number {
    return this.#subscribers.size;
  }

  /** Calls `listener` with every event as it is published; returns what stops it. */
  listen(listener: (event: E) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** A stream of the events published from now on; cancel it to unsubscribe. */
  subscribe(): Subscription<E> {
    let ended: SubscriptionEnd | undefined;
    let subscriber!: _Subscriber<E>;
    const events = new ReadableStream<E>({
      start: (controller) => {
        subscriber = {
          controller,
          end: (reason) => {
            this.#subscribers.delete(subscriber);
            ended = reason;
            controller.close();
          },
        };
      },
      cancel: () => {
        this.#subscribers.delete(subscriber);
      },
    }, new CountQueuingStrategy({ highWaterMark: this.#bufferSize }));
    if (this.#closed) subscriber.end("closed");
    else this.#subscribers.add(subscriber);
    return {
      events,
      get ended() {
        return ended;
      },
    };
  }

  /** Hands `event` to every listener, then to every subscriber with room for it. */
  publish(event: E): void {
    if (this.#closed) return;
    for (const listener of this.#listeners) listener(event);
    for (const subscriber of this.#subscribers) {
      if ((subscriber.controller.desiredSize ?? 0) > 0) subscriber.controller.enqueue(event);
      else subscriber.end("too_slow");
    }
  }

  /** Ends every subscription (their streams close after what they hold) and drops later events. */
  close(): void {
    this.#closed = true;
    for (const subscriber of this.#subscribers) subscriber.end("closed");
  }
}
