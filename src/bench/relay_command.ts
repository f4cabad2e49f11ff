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
}

/**
 * The command line that runs this same relay: a compiled binary runs itself; the bundle (`dist/relay`,
 * whatever its file is called) is an executable script whose shebang carries its permissions; relay
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
  if (program.bundled) return [path];
  const config = decodeURIComponent(new URL("deno.json", main).pathname);
  return [program.execPath, "run", "-q", "-P=relay", "--no-prompt", "--config", config, path];
}

function _running(): ProgramLocation {
  return {
    execPath: Deno.execPath(),
    mainModule: Deno.mainModule,
    standalone: Deno.build.standalone,
    bundled: import.meta.url === Deno.mainModule,
  };
}
