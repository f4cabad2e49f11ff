/**
 * Builds `dist/relay`: one JavaScript file with every dependency inlined and a shebang that runs it
 * under the same scoped permissions (and unstable opt-ins) as `deno task serve` and `deno compile`,
 * read from the `relay` permission set in deno.json, so there is one list to keep.
 *
 *     deno task bundle && ./dist/relay --version
 *     deno run --allow-read --allow-write --allow-run=deno scripts/bundle.ts /tmp/relay   # elsewhere
 */
import denoJson from "../deno.json" with { type: "json" };

type PermissionValue = boolean | string[];

/** `{ net: true, sys: ["uid"] }` -> `["--allow-net", "--allow-sys=uid"]`. */
export function permissionFlags(set: Record<string, PermissionValue>): string[] {
  return Object.entries(set).flatMap(([name, value]) => {
    if (value === true) return [`--allow-${name}`];
    if (Array.isArray(value) && value.length > 0) return [`--allow-${name}=${value.join(",")}`];
    return [];
  });
}

if (import.meta.main) {
  const out = Deno.args[0] ?? "dist/relay";
  const bundled = `${out}.js`;
  const root = new URL("..", import.meta.url);
  await Deno.mkdir(new URL(".", new URL(out, `file://${Deno.cwd()}/`)), { recursive: true });
  const { code } = await new Deno.Command("deno", {
    args: ["bundle", "--quiet", "--platform", "deno", "--output", bundled, new URL("main.ts", root).pathname],
  }).spawn().status;
  if (code !== 0) Deno.exit(code);
  const flags = [
    ...permissionFlags(denoJson.permissions.relay),
    ...denoJson.unstable.map((feature) => `--unstable-${feature}`),
    "--no-prompt",
    "--no-config",
  ];
  const shebang = `#!/usr/bin/env -S deno run ${flags.join(" ")}\n`;
  await Deno.writeTextFile(out, shebang + await Deno.readTextFile(bundled), { mode: 0o755 });
  await Deno.remove(bundled);
  console.log(`wrote ${out} (${flags.join(" ")})`);
}
