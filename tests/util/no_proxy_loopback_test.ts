import assert from "node:assert/strict";
import { bypassProxyForLoopback } from "../../src/util/no_proxy_loopback.ts";

/** An environment of `variables`, changed in place. */
function fakeEnv(variables: Record<string, string>) {
  return {
    variables,
    get: (name: string) => variables[name],
    set: (name: string, value: string) => void (variables[name] = value),
  };
}

function bypassed(variables: Record<string, string>): Record<string, string> {
  const env = fakeEnv({ ...variables });
  bypassProxyForLoopback(env);
  return env.variables;
}

Deno.test("with a proxy in any of its variables, either case, loopback joins NO_PROXY and no_proxy", () => {
  for (const name of ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]) {
    assert.deepEqual(bypassed({ [name]: "http://proxy:3128" }), {
      [name]: "http://proxy:3128",
      NO_PROXY: "127.0.0.1,127.0.0.0/8,localhost,::1",
      no_proxy: "127.0.0.1,127.0.0.0/8,localhost,::1",
    }, name);
  }
});

Deno.test("without a proxy, nothing is added", () => {
  assert.deepEqual(bypassed({}), {});
  assert.deepEqual(bypassed({ NO_PROXY: ".corp", HTTP_PROXY: "" }), { NO_PROXY: ".corp", HTTP_PROXY: "" });
});

Deno.test("what NO_PROXY and no_proxy already name is kept, and each keeps its own list", () => {
  const proxy = { HTTP_PROXY: "http://proxy:3128" };
  assert.deepEqual(bypassed({ ...proxy, NO_PROXY: ".corp, example.com," }), {
    ...proxy,
    NO_PROXY: ".corp, example.com,127.0.0.1,127.0.0.0/8,localhost,::1",
    no_proxy: ".corp, example.com,127.0.0.1,127.0.0.0/8,localhost,::1",
  });
  assert.deepEqual(bypassed({ ...proxy, no_proxy: ".corp" }), {
    ...proxy,
    NO_PROXY: ".corp,127.0.0.1,127.0.0.0/8,localhost,::1",
    no_proxy: ".corp,127.0.0.1,127.0.0.0/8,localhost,::1",
  });
  assert.deepEqual(bypassed({ ...proxy, NO_PROXY: "a.corp", no_proxy: "b.corp" }), {
    ...proxy,
    NO_PROXY: "a.corp,127.0.0.1,127.0.0.0/8,localhost,::1",
    no_proxy: "b.corp,127.0.0.1,127.0.0.0/8,localhost,::1",
  });
});

Deno.test("a loopback name already listed is not added twice, and * does not stand for them", () => {
  const proxy = { HTTPS_PROXY: "http://proxy:3128" };
  assert.deepEqual(bypassed({ ...proxy, NO_PROXY: "LOCALHOST, 127.0.0.1" }), {
    ...proxy,
    NO_PROXY: "LOCALHOST, 127.0.0.1,127.0.0.0/8,::1",
    no_proxy: "LOCALHOST, 127.0.0.1,127.0.0.0/8,::1",
  });
  // 127.0.0.10 is another address: 127.0.0.1 is still missing.
  assert.deepEqual(
    bypassed({ ...proxy, NO_PROXY: "127.0.0.10" }).NO_PROXY,
    "127.0.0.10,127.0.0.1,127.0.0.0/8,localhost,::1",
  );
  // Deno's * matches host names only: 127.0.0.1 and ::1 would still go through the proxy.
  assert.deepEqual(bypassed({ ...proxy, NO_PROXY: "*" }), {
    ...proxy,
    NO_PROXY: "*,127.0.0.1,127.0.0.0/8,localhost,::1",
    no_proxy: "*,127.0.0.1,127.0.0.0/8,localhost,::1",
  });
});

Deno.test("a long NO_PROXY is read in time linear in it", () => {
  // Spaces and commas not at its end: its trailing ones were looked for from each, 6 to 10 s for 64 KiB.
  for (const filler of [" ", ",", ", "]) {
    const list = filler.repeat(65_536 / filler.length) + ".corp";
    const started = performance.now();
    const { NO_PROXY } = bypassed({ HTTP_PROXY: "http://proxy:3128", NO_PROXY: `${list}, ,` });
    const elapsed = performance.now() - started;
    assert.equal(NO_PROXY, `${list},127.0.0.1,127.0.0.0/8,localhost,::1`);
    assert.ok(elapsed < 1_000, `${JSON.stringify(filler)}: ${elapsed} ms`);
  }
});
