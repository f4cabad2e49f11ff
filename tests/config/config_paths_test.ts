/** File paths in a config, and where relay looks for the config itself: one place, whatever the cwd. */
import assert from "node:assert/strict";
import { defaultConfig } from "../../src/config/default.ts";
import { findConfigPath, pathInConfig, userConfigFile } from "../../src/config/find.ts";
import { denoRefusal } from "../../src/util/error_message.ts";
import { expandHome, homeFolder, xdgFolder } from "../../src/util/home.ts";
import { loadConfigFile, parseConfig } from "../../src/config/load.ts";
import { resolveConfig } from "../../src/config/resolve.ts";
import { configErrorWith } from "../_helpers/config.ts";
import { tempFolder } from "../_helpers/temp_folder.ts";

const env = (vars: Record<string, string>) => (name: string) => vars[name];

const VERTEX = (file: string) =>
  `  - { name: vx, type: vertex, project: p, region: global, credentials_file: "${file}" }\n`;

function paths(text: string, file: string, vars: Record<string, string> = {}) {
  const { config } = parseConfig(text, file, env(vars));
  const vertex = config.providers.find((provider) => provider.type === "vertex");
  return {
    ledger: config.ledger.path,
    credentials: vertex?.type === "vertex" ? vertex.credentials_file : undefined,
  };
}

Deno.test("a relative ledger.path or credentials_file is read from the config file's folder", () => {
  const text = `ledger:\n  path: data/ledger.db\nproviders:\n${VERTEX("../keys/sa.json")}`;
  assert.deepEqual(paths(text, "/etc/relay/relay.yaml"), {
    ledger: "/etc/relay/data/ledger.db",
    credentials: "/etc/keys/sa.json",
  });
});

Deno.test("an absolute path in a config is kept as written", () => {
  const text = `ledger:\n  path: /var/lib/relay/ledger.db\nproviders:\n${VERTEX("/srv/sa.json")}`;
  assert.deepEqual(paths(text, "/etc/relay/relay.yaml"), {
    ledger: "/var/lib/relay/ledger.db",
    credentials: "/srv/sa.json",
  });
});

Deno.test("~/ in ledger.path and in credentials_file is the home folder", () => {
  const text = `ledger:\n  path: ~/usage/ledger.db\nproviders:\n${VERTEX("~/creds/sa.json")}`;
  assert.deepEqual(paths(text, "/etc/relay/relay.yaml", { HOME: "/home/me" }), {
    ledger: "/home/me/usage/ledger.db",
    credentials: "/home/me/creds/sa.json",
  });
});

Deno.test("~/ with HOME unset is refused at each field that uses it, not read as a folder named ~", () => {
  const text = `ledger:\n  path: ~/usage/ledger.db\nproviders:\n${VERTEX("~/sa.json")}`;
  assert.throws(
    () => parseConfig(text, "/etc/relay/relay.yaml", env({})),
    configErrorWith(
      [
        "/etc/relay/relay.yaml: 2 problems",
        "/etc/relay/relay.yaml:2:9: ledger.path: starts with ~, which stands for $HOME, and HOME is not set: " +
        "write the whole path",
        "/etc/relay/relay.yaml:4:77: providers[0].credentials_file: starts with ~, which stands for $HOME, " +
        "and HOME is not set: write the whole path",
      ].join("\n"),
    ),
  );
});

Deno.test("loadConfigFile gives the same paths from any working folder, so a reload sees no change", async () => {
  await using temp = await tempFolder("relay-paths-");
  const folder = temp.path;
  const file = `${folder}/relay.yaml`;
  await Deno.writeTextFile(file, "ledger:\n  path: ledger.db\nproviders:\n  - { name: m, type: mock }\n", {
    mode: 0o600,
  });
  const cwd = Deno.cwd();
  try {
    const here = await loadConfigFile(file);
    Deno.chdir("/");
    const elsewhere = await loadConfigFile(file);
    assert.equal(here.config.ledger.path, `${folder}/ledger.db`);
    assert.deepEqual(elsewhere.config, here.config);
  } finally {
    Deno.chdir(cwd);
  }
});

Deno.test("findConfigPath makes a relative --config or $RELAY_CONFIG absolute, from the working folder", () => {
  const found = (flag: string | undefined, vars: Record<string, string>) =>
    findConfigPath({ flag, env: env(vars), cwd: "/srv/work", home: "/home/me", exists: () => false });
  assert.deepEqual(found("../etc/relay.yaml", {}), { path: "/srv/etc/relay.yaml", source: "flag" });
  assert.deepEqual(found(undefined, { RELAY_CONFIG: "conf/relay.yaml" }), {
    path: "/srv/work/conf/relay.yaml",
    source: "RELAY_CONFIG",
  });
});

Deno.test("findConfigPath with no home searches the XDG location only when $XDG_CONFIG_HOME is set", () => {
  const seen: string[] = [];
  const exists = (path: string) => (seen.push(path), false);
  findConfigPath({ env: env({}), cwd: "/srv", home: undefined, exists });
  assert.deepEqual(seen, ["/srv/relay.yaml"], "never /.config/relay/relay.yaml");
  seen.length = 0;
  findConfigPath({ env: env({ XDG_CONFIG_HOME: "/xdg" }), cwd: "/srv", home: undefined, exists });
  assert.deepEqual(seen, ["/srv/relay.yaml", "/xdg/relay/relay.yaml"]);
});

Deno.test("homeFolder, xdgFolder, userConfigFile, expandHome and pathInConfig never make up a home", () => {
  assert.equal(homeFolder(env({ HOME: "/home/me" })), "/home/me");
  assert.equal(homeFolder(env({})), undefined);
  assert.equal(homeFolder(env({ HOME: "" })), undefined);
  assert.equal(xdgFolder(env({}), "XDG_DATA_HOME", "/home/me"), "/home/me/.local/share");
  assert.equal(xdgFolder(env({ XDG_DATA_HOME: "/data" }), "XDG_DATA_HOME", undefined), "/data");
  assert.equal(xdgFolder(env({ XDG_DATA_HOME: "relative" }), "XDG_DATA_HOME", undefined), undefined);
  assert.equal(userConfigFile(env({}), "/home/me"), "/home/me/.config/relay/relay.yaml");
  assert.equal(userConfigFile(env({}), undefined), undefined);
  assert.equal(expandHome("~/a", "/home/me"), "/home/me/a");
  assert.equal(expandHome("~", "/home/me"), "/home/me");
  assert.equal(expandHome("~a/b", "/home/me"), "~a/b", "another user's ~ is a name");
  assert.equal(expandHome("~/a", undefined), undefined);
  assert.equal(pathInConfig("a.db", "/etc/relay/relay.yaml", undefined), "/etc/relay/a.db");
  assert.equal(pathInConfig("~/a.db", "/etc/relay/relay.yaml", "/root"), "/root/a.db");
});

Deno.test("the no-config banner names the user config file relay looked for, or says it had none", async () => {
  await using folder = await tempFolder("relay-paths-");
  const cwd = folder.path;
  const xdg = await resolveConfig({ env: env({ XDG_CONFIG_HOME: "/xdg/empty" }), cwd, home: "/home/me" });
  assert.match(xdg.banner!, /^No config file found \(.*, \/xdg\/empty\/relay\/relay\.yaml\)\./);
  const home = await resolveConfig({ env: env({}), cwd, home: "/home/me" });
  assert.match(home.banner!, /^No config file found \(.*, \/home\/me\/\.config\/relay\/relay\.yaml\)\./);
  const none = await resolveConfig({ env: env({}), cwd });
  assert.match(none.banner!, /, no user config: neither \$XDG_CONFIG_HOME nor \$HOME is set\)\./);
  assert.doesNotMatch(defaultConfig(env({}), { userConfig: "/x/relay/relay.yaml" }).banner, /~/);
});

Deno.test("denoRefusal words Deno's refusal of /dev, /proc and /sys, and nothing else it refuses", () => {
  let special: unknown;
  try {
    Deno.statSync("/dev/relay-test-nowhere");
  } catch (error) {
    special = error;
  }
  assert.match(
    denoRefusal(special) ?? "",
    /^Deno, which runs relay, opens files under \/dev, .*put the file elsewhere$/,
  );
  const denied = new Deno.errors.NotCapable(
    'Requires write access to "/x", run again with the --allow-write flag',
  );
  assert.equal(denoRefusal(denied), undefined, "a permission relay was denied has its own words");
  assert.equal(denoRefusal(new Deno.errors.NotFound("gone")), undefined);
});
