import assert from "node:assert/strict";
import { isFetchBlockedPort } from "../../src/config/blocked_ports.ts";

const blockedPorts = () =>
  Array.from({ length: 65_536 }, (_, port) => port).filter((port) =>
    isFetchBlockedPort(new URL(`http://127.0.0.1:${port}/`))
  );

Deno.test("isFetchBlockedPort names the Fetch standard's bad ports, not the ports upstreams listen on", () => {
  const blocked = blockedPorts();
  assert.equal(blocked.length, 83, "the standard's list as of 2024 (4190 and 6679 its last)");
  for (const port of [0, 1, 9, 25, 4190, 5060, 6000, 6665, 6669, 6679, 10080]) {
    assert.ok(blocked.includes(port), `${port}`);
  }
  // Anthropic, gateways, Ollama, LiteLLM, vLLM, LM Studio, relay itself.
  for (const port of [80, 443, 3000, 4000, 5000, 6001, 8000, 8080, 8787, 11434, 1234]) {
    assert.ok(!blocked.includes(port), `${port}`);
  }
});

Deno.test("isFetchBlockedPort passes a URL without a port, whose default (80, 443) fetch takes", () => {
  for (
    const url of ["http://host", "https://host/v1", "http://host:80", "https://host:443", "http://host:443"]
  ) {
    assert.equal(isFetchBlockedPort(new URL(url)), false, url);
  }
  assert.equal(isFetchBlockedPort(new URL("https://host:6000/v1")), true);
});

Deno.test("every port isFetchBlockedPort names is one this Deno's fetch refuses before connecting", async () => {
  for (const port of blockedPorts()) {
    await assert.rejects(
      fetch(`http://127.0.0.1:${port}/`),
      (error: Error) => error.message.includes(`Requests to port ${port} are blocked`),
      `port ${port}`,
    );
  }
});
