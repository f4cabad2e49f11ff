import assert from "node:assert/strict";
import { isHttpUrl } from "../../src/util/http_url.ts";

Deno.test("isHttpUrl: http and https URLs only, not a host and port without a scheme", () => {
  for (const url of ["http://127.0.0.1:8787", "https://relay.example/", "HTTP://[::1]:80/path"]) {
    assert.equal(isHttpUrl(url), true, url);
  }
  for (const text of ["127.0.0.1:8787", "localhost:8787", "ftp://relay.example", "", "relay"]) {
    assert.equal(isHttpUrl(text), false, text);
  }
});
