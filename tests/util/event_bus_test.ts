import assert from "node:assert/strict";
import { EventBus } from "../../src/util/event_bus.ts";

async function drain<E>(stream: ReadableStream<E>): Promise<E[]> {
  return await Array.fromAsync(stream);
}

Deno.test("EventBus hands each event to listeners at once and to subscribers in order", async () => {
  const bus = new EventBus<number>();
  const heard: number[] = [];
  const stop = bus.listen((n) => heard.push(n));
  const subscription = bus.subscribe();
  bus.publish(1);
  bus.publish(2);
  stop();
  bus.publish(3);
  assert.deepEqual(heard, [1, 2]);
  bus.close();
  assert.deepEqual(await drain(subscription.events), [1, 2, 3]);
  assert.equal(subscription.ended, "closed");
});

Deno.test("a subscriber that lets its buffer fill is dropped after what it holds; the rest carry on", async () => {
  const bus = new EventBus<number>({ bufferSize: 2 });
  const slow = bus.subscribe();
  const fast = bus.subscribe();
  const reader = fast.events.getReader();
  const read: number[] = [];
  for (let n = 1; n <= 5; n++) {
    bus.publish(n);
    read.push((await reader.read()).value!);
  }
  assert.deepEqual(read, [1, 2, 3, 4, 5]);
  assert.equal(slow.ended, "too_slow");
  assert.equal(fast.ended, undefined);
  assert.equal(bus.subscribers, 1);
  assert.deepEqual(await drain(slow.events), [1, 2]);
});

Deno.test("cancelling a subscription unsubscribes; subscribing to a closed bus ends at once", async () => {
  const bus = new EventBus<string>();
  const subscription = bus.subscribe();
  await subscription.events.cancel();
  assert.equal(bus.subscribers, 0);
  bus.publish("ignored");
  bus.close();
  const late = bus.subscribe();
  assert.deepEqual(await drain(late.events), []);
  assert.equal(late.ended, "closed");
});
