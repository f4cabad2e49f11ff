import assert from "node:assert/strict";
import {
  fieldProblem,
  keyProblem,
  kindOf,
  modelsProblem,
  offeredModels,
  portProblem,
} from "../../../src/cli/init/providers.ts";

Deno.test("relay init offers Bedrock the inference profiles of the region's geography", () => {
  const bedrock = kindOf("bedrock")!;
  const profiles = (prefix: string) =>
    `claude-sonnet-4-5=${prefix}.anthropic.claude-sonnet-4-5-20250929-v1:0, ` +
    `claude-haiku-4-5=${prefix}.anthropic.claude-haiku-4-5-20251001-v1:0`;
  const cases = [
    ["us-east-1", "us"],
    ["us-west-2", "us"],
    ["us-gov-west-1", "us-gov"],
    ["eu-west-1", "eu"],
    ["eu-central-1", "eu"],
    ["ap-northeast-1", "apac"],
    ["ap-southeast-2", "apac"],
    ["ca-central-1", "global"],
    ["sa-east-1", "global"],
  ];
  for (const [region, prefix] of cases) {
    assert.equal(offeredModels(bedrock, { region }), profiles(prefix), region);
  }
  assert.equal(offeredModels(bedrock, {}), profiles("us"), "the default region's until one is answered");
});

Deno.test("relay init offers other types the same models whatever the region", () => {
  const vertex = kindOf("vertex")!;
  assert.equal(offeredModels(vertex, { region: "europe-west4" }), vertex.models);
  assert.equal(offeredModels(kindOf("mock")!, {}), undefined);
});

Deno.test("relay init refuses an API root on a port fetch blocks, as the config would, and takes others", () => {
  const blocked =
    'port 6000 is blocked by fetch (one of the Fetch standard\'s "bad ports"), so no request could ' +
    "reach it: use another port";
  for (const type of ["ollama", "openai", "anthropic-compatible", "azure"] as const) {
    assert.equal(fieldProblem(type, "base_url", "http://127.0.0.1:6000"), blocked, type);
    assert.equal(fieldProblem(type, "base_url", "http://127.0.0.1:6001"), undefined, type);
    assert.equal(fieldProblem(type, "base_url", "https://gateway.example/v1"), undefined, type);
  }
});

Deno.test("relay init refuses at its question a key an HTTP header cannot carry, as the config would at the end", () => {
  assert.equal(
    keyProblem("sk-gööd"),
    "character 5 is not ASCII: it travels in an HTTP header, which takes printable ASCII only",
  );
  assert.match(keyProblem("sk-ant-go\x01od")!, /^character 10 is a control character/);
  assert.equal(keyProblem("${ANTHROPIC_API_KEY}"), undefined, "a variable's name is checked where it is set");
  assert.equal(keyProblem("sk-ant-api03-good-key"), undefined);
});

Deno.test("relay init refuses a port fetch blocks for relay, whose clients could not reach it there", () => {
  assert.match(portProblem("6000")!, /^port 6000 is one fetch refuses to connect to/);
  assert.equal(portProblem("8787"), undefined);
});

Deno.test("relay init refuses a model name given twice, which would keep only the last id", () => {
  assert.equal(modelsProblem("sonnet=claude-x, sonnet=claude-y"), "sonnet is given twice: one id a name");
  assert.equal(modelsProblem("sonnet=claude-x, haiku=claude-y"), undefined);
});
