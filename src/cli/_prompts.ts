/**
 * Questions to a person at a terminal, behind a small interface so commands never touch the prompt
 * library directly. `@clack/prompts` is loaded only once a terminal is known to be there: without one
 * it waits forever for keys that never come.
 */

import { stderr, stdout } from "node:process";

/**
 * The person cancelled a question (Ctrl-C, Escape) or relay got SIGINT between questions.
 *
 * @example
 * ```ts
 * try {
 *   await prompter.confirm({ message: "Write it?", initial: true });
 * } catch (error) {
 *   if (error instanceof Cancelled) Deno.exit(130);
 *   throw error;
 * }
 * ```
 */
export class Cancelled extends Error {
  override name = "Cancelled";
  constructor() {
    super("cancelled");
  }
}

/** One option of a choice; `hint` is shown dimmed beside the label. */
export interface Choice<T> {
  value: T;
  label: string;
  hint?: string;
}

/** A question answered with a line of text. */
export interface TextQuestion {
  message: string;
  /** Shown dimmed and taken when the answer is left empty. */
  initial?: string;
  /** Why the answer is refused (the question is asked again), or `undefined` to take it. */
  validate?: (value: string) => string | undefined;
}

/** What a command can tell, with or without a terminal. */
export interface Reporter {
  intro(title: string): void;
  note(message: string, title?: string): void;
  log(kind: "info" | "step" | "success" | "warn" | "error", message: string): void;
  outro(message: string): void;
}

/**
 * A {@linkcode Reporter} for plain output, when nobody is asked anything: notes and steps to stdout,
 * warnings and errors to stderr.
 *
 * @example
 * ```ts
 * const out: Reporter = canPrompt() ? await terminalPrompter(signal) : plainReporter;
 * out.log("warn", "ANTHROPIC_API_KEY is not set"); // stderr: "warning: ANTHROPIC_API_KEY is not set"
 * ```
 */
export const plainReporter: Reporter = {
  intro: () => {},
  note: (message, title) => console.log(title ? `${title}:\n${message.replace(/^/gm, "  ")}` : message),
  log: (kind, message) => {
    if (kind === "warn" || kind === "error") {
      console.error(`${kind === "warn" ? "warning" : "error"}: ${message}`);
    } else console.log(message);
  },
  outro: (message) => console.log(message),
};

/** What a command can ask and tell; every question throws {@linkcode Cancelled} when cancelled. */
export interface Prompter extends Reporter {
  text(question: TextQuestion): Promise<string>;
  /** Typed text is shown masked. */
  password(question: Omit<TextQuestion, "initial">): Promise<string>;
  select<T>(question: { message: string; options: Choice<T>[]; initial?: T }): Promise<T>;
  /** At least one option must be chosen. */
  multiselect<T>(question: { message: string; options: Choice<T>[]; initial: T[] }): Promise<T[]>;
  confirm(question: { message: string; initial: boolean }): Promise<boolean>;
}

/**
 * Whether questions can be asked: stdin must be a terminal, and stdout or stderr one to draw them on.
 *
 * @example
 * ```ts
 * if (!canPrompt()) console.error("no terminal: pass --yes");
 * ```
 */
export function canPrompt(): boolean {
  return Deno.stdin.isTerminal() && (Deno.stdout.isTerminal() || Deno.stderr.isTerminal());
}

/**
 * The {@linkcode Prompter} for this process's terminal. Call only when {@linkcode canPrompt} is true.
 * `signal` (SIGINT between questions) cancels the question on screen. Everything is drawn on stdout, or
 * on stderr when stdout is not the terminal (`relay init > file`, `| tee`).
 *
 * @example
 * ```ts
 * const prompter = await terminalPrompter(signal);
 * const port = await prompter.text({ message: "Port", initial: "8787" });
 * ```
 */
export async function terminalPrompter(signal: AbortSignal): Promise<Prompter> {
  const clack = await import("@clack/prompts");
  const output = Deno.stdout.isTerminal() ? stdout : stderr;
  const answer = <T>(value: T): Exclude<T, symbol> => {
    if (clack.isCancel(value)) throw new Cancelled();
    return value as Exclude<T, symbol>;
  };
  const validator = (validate: TextQuestion["validate"], initial?: string) => (value: string | undefined) =>
    validate?.(value?.trim() || initial || "");
  return {
    intro: (title) => clack.intro(title, { output }),
    note: (message, title) => clack.note(message, title, { output }),
    log: (kind, message) => clack.log[kind](message, { output }),
    outro: (message) => clack.outro(message, { output }),
    text: async ({ message, initial, validate }) => {
      const value = answer(
        await clack.text({
          message,
          placeholder: initial,
          defaultValue: initial,
          validate: validator(validate, initial),
          signal,
          output,
        }),
      );
      return value.trim() || initial || "";
    },
    password: async ({ message, validate }) =>
      answer(await clack.password({ message, validate: validator(validate), signal, output })).trim(),
    select: async ({ message, options, initial }) =>
      // clack's option type is conditional on the value type; ours are plain labelled values.
      answer(
        await clack.select({ message, options: options as never, initialValue: initial, signal, output }),
      ),
    multiselect: async ({ message, options, initial }) =>
      answer(
        await clack.multiselect({
          message,
          options: options as never,
          initialValues: initial,
          required: true,
          signal,
          output,
        }),
      ),
    confirm: async ({ message, initial }) =>
      answer(await clack.confirm({ message, initialValue: initial, signal, output })),
  };
}
