import { mockHandler } from "../src/providers/mock.ts";
import { mockOptionsSchema } from "../src/providers/mock_options.ts";
const s = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen() {} },
  mockHandler(mockOptionsSchema.parse({})),
);
const body = JSON.stringify({
  model: "mock-1",
  max_tokens: 64,
  stream: true,
  messages: [{ role: "user", content: "hi" }],
});
const r = await fetch(`http://127.0.0.1:${s.addr.port}/v1/messages`, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body,
});
console.log([...r.headers]);
const b = new Uint8Array(await r.arrayBuffer());
console.log(b.byteLength);
const p = new Deno.Command("curl", {
  args: [
    "-s",
    "-D",
    "-",
    "-o",
    "/dev/null",
    "-H",
    "accept-encoding: gzip, br",
    "-H",
    "content-type: application/json",
    "--data",
    body,
    `http://127.0.0.1:${s.addr.port}/v1/messages`,
  ],
}).outputSync();
console.log(new TextDecoder().decode(p.stdout));
await s.shutdown();
