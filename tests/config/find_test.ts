import assert from "node:assert/strict";
import { findConfigPath, type FindOptions } from "../../src/config/find.ts";

function find(options: Partial<FindOptions> & { vars?: Record<string, string>; files?: string[] }) {
  const files = new Set(options.files ?? []);
  return findConfigPath({
    flag: options.flag,
    env: (name) => options.vars?.[name],
    cwd: "/work",
    home: "/home/me",
    exists: (path) => files.has(path),
  });
}

const ALL = ["/work/relay.yaml", "/xdg/relay/relay.yaml", "/home/me/.config/relay/relay.yaml"];

Deno.test("findConfigPath prefers --config over everything", () => {
  assert.deepEqual(find({ flag: "/custom.yaml", vars: { RELAY_CONFIG: "/env.yaml" }, files: ALL }), {
    path: "/custom.yaml",
    source: "flag",
  });
});

Deno.test("findConfigPath uses $RELAY_CONFIG when there is no flag", () => {
  assert.deepEqual(find({ vars: { RELAY_CONFIG: "/env.yaml", XDG_CONFIG_HOME: "/xdg" }, files: ALL }), {
    path: "/env.yaml",
    source: "RELAY_CONFIG",
  });
});

Deno.test("findConfigPath returns explicit paths even when the file is missing", () => {
  assert.deepEqual(find({ flag: "/nope.yaml" }), { path: "/nope.yaml", source: "flag" });
  assert.deepEqual(find({ vars: { RELAY_CONFIG: "/nope.yaml" } }), {
    path: "/nope.yaml",
    source: "RELAY_CONFIG",
  });
});

Deno.test("findConfigPath treats an empty flag or $RELAY_CONFIG as unset", () => {
  assert.deepEqual(find({ flag: "", vars: { RELAY_CONFIG: "" }, files: ALL }), {
    path: "/work/relay.yaml",
    source: "cwd",
  });
});

Deno.test("findConfigPath prefers ./relay.yaml over the XDG location", () => {
  assert.deepEqual(find({ vars: { XDG_CONFIG_HOME: "/xdg" }, files: ALL }), {
    path: "/work/relay.yaml",
    source: "cwd",
  });
});

Deno.test("findConfigPath looks in $XDG_CONFIG_HOME/relay when it is set", () => {
  assert.deepEqual(find({ vars: { XDG_CONFIG_HOME: "/xdg" }, files: ALL.slice(1) }), {
    path: "/xdg/relay/relay.yaml",
    source: "xdg",
  });
  assert.equal(find({ vars: { XDG_CONFIG_HOME: "/xdg" }, files: ALL.slice(2) }), undefined);
});

Deno.test("findConfigPath defaults the XDG location to ~/.config, also for a relative $XDG_CONFIG_HOME", () => {
  const expected = { path: "/home/me/.config/relay/relay.yaml", source: "xdg" };
  assert.deepEqual(find({ files: ALL.slice(2) }), expected);
  assert.deepEqual(find({ vars: { XDG_CONFIG_HOME: "rel" }, files: ALL.slice(2) }), expected);
  assert.deepEqual(find({ vars: { XDG_CONFIG_HOME: "" }, files: ALL.slice(2) }), expected);
});

Deno.test("findConfigPath finds nothing when no candidate exists", () => {
  assert.equal(find({}), undefined);
});
