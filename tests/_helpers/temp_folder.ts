/**
 * A fresh temporary folder, removed with all it holds when the test's `await using` scope ends.
 *
 * @example
 * ```ts
 * await using folder = await tempFolder();
 * await Deno.writeTextFile(`${folder.path}/relay.yaml`, "providers: []\n");
 * ```
 */
export async function tempFolder(prefix = "relay-test-"): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}
