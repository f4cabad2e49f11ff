import assert from "node:assert/strict";
import { kindOf, offeredModels } from "../../../src/cli/init/providers.ts";

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
