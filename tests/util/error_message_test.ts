import assert from "node:assert/strict";
import { errorMessage, outOfFileDescriptors, withoutOsError } from "../../src/util/error_message.ts";

Deno.test("errorMessage gives an Error's message, and anything else thrown as a string", () => {
  assert.equal(errorMessage(new TypeError("bad type")), "bad type");
  assert.equal(errorMessage(new DOMException("client disconnected", "AbortError")), "client disconnected");
  assert.equal(errorMessage("aborted"), "aborted");
  assert.equal(errorMessage(undefined), "undefined");
});

Deno.test("withoutOsError drops Deno's os error number and the call after it", () => {
  assert.equal(withoutOsError("File name too long (os error 36): stat '/a/b'"), "File name too long");
  assert.equal(withoutOsError("No space left on device (os error 28)"), "No space left on device");
  assert.equal(withoutOsError("connection refused"), "connection refused");
});

Deno.test("errorMessage adds why fetch failed, from its cause, without the URL and its query", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  const thrown = await fetch(`http://127.0.0.1:${port}/v1/messages?key=SECRET`).catch((error) => error);
  assert.match(errorMessage(thrown), /^fetch failed: .*Connection refused/);
  assert.doesNotMatch(errorMessage(thrown), /SECRET|127\.0\.0\.1/);
});

Deno.test("errorMessage says why fetch failed on a connection it had made, without either address or the URL", async () => {
  // Accepts, reads the request, and closes without a word: Deno's cause then names both ends.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closing = (async () => {
    const connection = await listener.accept();
    await connection.read(new Uint8Array(4096));
    connection.close();
  })();
  const thrown = await fetch(`http://127.0.0.1:${listener.addr.port}/v1/messages?key=SECRET`, {
    method: "POST",
    body: "{}",
  }).catch((error) => error);
  await closing;
  listener.close();
  assert.match(errorMessage(thrown), /^fetch failed: .*connection closed before message completed/);
  assert.doesNotMatch(errorMessage(thrown), /SECRET|127\.0\.0\.1|sending request/);
});

Deno.test("errorMessage leaves alone the message of an error that names its cause in words of its own", () => {
  const cause = new Error("no body byte for 300000 ms");
  assert.equal(errorMessage(new Error("upstream up sent nothing", { cause })), "upstream up sent nothing");
  assert.equal(
    errorMessage(new TypeError("fetch failed", { cause: "dns error" })),
    "fetch failed: dns error",
    "a cause that is not an Error is put in words as any thrown value",
  );
});

Deno.test("outOfFileDescriptors tells EMFILE and ENFILE by their number, however the error is wrapped", () => {
  assert.ok(outOfFileDescriptors(new Error("Too many open files (os error 24): readfile 'relay.yaml'")));
  assert.ok(outOfFileDescriptors(new Deno.errors.Http("Error: Too many open files (os error 24)")));
  assert.ok(outOfFileDescriptors(new Error("Too many open files in system (os error 23)")));
  assert.ok(outOfFileDescriptors(
    new TypeError("fetch failed", {
      cause: new Error("client error (Connect): tcp open error: Too many open files (os error 24)"),
    }),
  ));
  assert.ok(!outOfFileDescriptors(new Deno.errors.PermissionDenied("Permission denied (os error 13)")));
  assert.ok(!outOfFileDescriptors(new Error("relay saw os error 240 (os error 2400)")));
});
