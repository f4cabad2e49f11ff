/** How to start the relay program that is running now again, as a child process. */

/** Where the running program came from. */
export interface ProgramLocation {
  /** `Deno.execPath()`: the deno binary, or the program itself when compiled. */
  execPath: string;
  /** `Deno.mainModule`. */
  mainModule: string;
  /** `Deno.build.standalone`: whether this is a `deno compile` binary. */
  standalone: boolean;
  /**
   * Whether the main module is the bundle, one file holding every module, this one too (so this
   * module's `import.meta.url` is the main module's); not, by default: `main.ts` from source.
   */
  bundled?: boolean;
  /** The bundle's first line, `#!/usr/bin/env -S deno run <flags>`, when {@linkcode bundled}. */
  shebang?: string;
}

/**
 * The command line that runs this same relay: a compiled binary runs itself; the bundle (`dist/relay`,
 * whatever its file is called) runs under the deno running now with its shebang's flags (its
 * permissions), neither the `deno` on `PATH` nor the file's executable bit being needed; relay
 * from source (`main.ts`) runs under deno with the project's `relay` permission set, from the
 * deno.json beside it. Append a subcommand and its arguments.
 *
 * @example
 * ```ts
 * const [program, ...args] = relayCommand();
 * new Deno.Command(program, { args: [...args, "serve", "--port", "0"] }).spawn();
 * ```
 */
export function relayCommand(program: ProgramLocation = _running()): string[] {
  if (program.standalone) return [program.execPath];
  const main = new URL(program.mainModule);
  if (main.protocol !== "file:") {
    throw new Error(`cannot start ${program.mainModule} again: not a local file`);
  }
  const path = decodeURIComponent(main.pathname);
  if (program.bundled) {
    const flags = program.shebang?.match(/^#!.*\bdeno run((?: --?[\w-]+(?:=\S*)?)*)\s*$/)?.[1];
    if (flags === undefined) {
      throw new Error(`cannot start ${path} again: its first line is no deno run shebang`);
    }
    return [program.execPath, "run", ...flags.split(" ").filter(Boolean), path];
  }
  const config = decodeURIComponent(new URL("deno.json", main).pathname);
  return [program.execPath, "run", "-q", "-P=relay", "--no-prompt", "--config", config, path];
}

/** The running program, once asked: it cannot change, and the bundle's first line is read from its file. */
let _runningProgram: ProgramLocation | undefined;

function _running(): ProgramLocation {
  if (_runningProgram) return _runningProgram;
  const bundled = import.meta.url === Deno.mainModule;
  _runningProgram = {
    execPath: _deno(),
    mainModule: Deno.mainModule,
    standalone: Deno.build.standalone,
    bundled,
    shebang: bundled ? _firstLine(new URL(Deno.mainModule)) : undefined,
  };
  return _runningProgram;
}

/**
 * The deno to start again: the one running, unless only `deno` on `PATH` may be run, as with
 * `--allow-run=deno` when that `deno` is a link to the binary (npm installs it so): Deno grants the
 * name as `PATH` finds it, not the file it links to, and the bench would fall back to workers.
 */
function _deno(): string {
  const running = Deno.execPath();
  if (Deno.build.standalone) return running;
  const mayRun = (command: string) =>
    Deno.permissions.querySync({ name: "run", command }).state === "granted";
  return !mayRun(running) && mayRun("deno") ? "deno" : running;
}

function _firstLine(file: URL): string {
  using handle = Deno.openSync(file);
  const start = new Uint8Array(4096);
  const read = handle.readSync(start) ?? 0;
  return new TextDecoder().decode(start.subarray(0, read)).split("\n", 1)[0];
}
