/** `server.allowed_hosts`: the names besides loopback ones a loopback relay answers to. */
import assert from "node:assert/strict";
import { ConfigError } from "../../src/config/errors.ts";
import { parseConfig } from "../../src/config/load.ts";
import { configSchema } from "../../src/config/schema.ts";
import { issuesOf } from "../_helpers/config.ts";

const MOCK = { name: "mock", type: "mock" };
const PROBLEM = "must be a host name or IP address alone, without scheme, port or path (e.g. relay.internal)";

Deno.test("server.allowed_hosts is empty unless given, and takes host names and IP addresses", () => {
  assert.deepEqual(configSchema.parse({ providers: [MOCK] }).server.allowed_hosts, []);
  const names = ["relay.internal", "Dev-Box", "localhost", "192.168.1.5", "fe80::1", "[fe80::1]"];
  assert.deepEqual(
    configSchema.parse({ providers: [MOCK], server: { allowed_hosts: names } }).server.allowed_hosts,
    names,
  );
});

Deno.test("server.allowed_hosts takes a name with its final dot as the same name", () => {
  const parsed = configSchema.parse({ providers: [MOCK], server: { allowed_hosts: ["relay.internal."] } });
  assert.deepEqual(parsed.server.allowed_hosts, ["relay.internal"]);
});

Deno.test("server.allowed_hosts refuses anything but a bare name: a scheme, a port, a path, a wildcard", () => {
  for (
    const name of [
      "",
      "http://relay.internal",
      "relay.internal:8787",
      "relay.internal/v1",
      "*.example",
      "*",
      "relay internal",
      "relay.internal..",
      "999.1.1.1",
    ]
  ) {
    assert.deepEqual(
      issuesOf({ providers: [MOCK], server: { allowed_hosts: ["ok.example", name] } }),
      [`server.allowed_hosts.1: ${PROBLEM}`],
      JSON.stringify(name),
    );
  }
  assert.equal(issuesOf({ providers: [MOCK], server: { allowed_hosts: "relay.internal" } }).length, 1);
});

Deno.test("a bad server.allowed_hosts entry is reported at its line and column", () => {
  const text = "server:\n  allowed_hosts:\n    - relay.internal\n    - https://relay.internal:8443\n" +
    "providers:\n  - name: mock\n    type: mock\n";
  assert.throws(() => parseConfig(text, "relay.yaml", () => undefined), (error) => {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.message, `relay.yaml:4:7: server.allowed_hosts[1]: ${PROBLEM}`);
    return true;
  });
});
