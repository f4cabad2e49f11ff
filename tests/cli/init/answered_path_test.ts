import assert from "node:assert/strict";
import { pathForConfig } from "../../../src/cli/init/answered_path.ts";

Deno.test("a path answered to relay init is written as the config's folder reads it", () => {
  const config = "/etc/relay/relay.yaml";
  const cases: [answer: string, cwd: string, written: string][] = [
    ["sa.json", "/home/me", "/home/me/sa.json"],
    ["../me/sa.json", "/home/other", "/home/me/sa.json"],
    ["/srv/sa.json", "/home/me", "/srv/sa.json"],
    ["sa.json", "/etc/relay", "sa.json"],
    ["relay/keys/sa.json", "/etc", "keys/sa.json"],
    ["/etc/relay/sa.json", "/home/me", "sa.json"],
    ["/etc/relay-other/sa.json", "/home/me", "/etc/relay-other/sa.json"],
    ["/etc/relay/..sa.json", "/home/me", "..sa.json"],
    ["~/sa.json", "/etc", "~/sa.json"],
    ["${SA_FILE}", "/etc", "${SA_FILE}"],
  ];
  for (const [answer, cwd, written] of cases) {
    assert.equal(pathForConfig(answer, config, cwd), written, `${answer} from ${cwd}`);
  }
});
