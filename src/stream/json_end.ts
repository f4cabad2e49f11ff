/** Where an unstreamed JSON answer ends, told byte by byte as its chunks come, without parsing it. */
import { BOM_BYTES } from "../util/bytes.ts";
import { isJsonWhitespace } from "../util/json.ts";

const _QUOTE = 0x22;
const _BACKSLASH = 0x5c;
const _COMMA = 0x2c;
const _OPEN_BRACE = 0x7b;
const _CLOSE_BRACE = 0x7d;
const _OPEN_BRACKET = 0x5b;
const _CLOSE_BRACKET = 0x5d;

/** The key whose member {@linkcode JsonEnd.usageAt} finds, as bytes. */
const _USAGE = new TextEncoder().encode("usage");

/**
 * A top-level number or literal longer than this is no answer relay can tell whole: no JSON literal is
 * that long, nor any number an answer would be.
 */
const _MAX_SCALAR_CHARS = 64;

/** A whole top-level number or literal (`true`, `false`, `null`). */
const _SCALAR = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)$/;

/**
 * JSON's whitespace, under a name of this module's own: {@linkcode JsonEnd.feed} asks it a byte at a
 * time, and V8 inlined the call through an import less reliably (up to a third slower on a body of
 * whitespace, in some runs) than through a constant of the module.
 */
const _isWhitespace = isJsonWhitespace;

/**
 * Follows a JSON body as its chunks come, a few comparisons a byte and nothing kept of it, to tell when
 * its top-level value is complete, whether the body is one whole value, and where the top-level object's
 * `usage` member starts. It tracks only what ends a value: brackets and braces (depth), strings (a quoted
 * `}` or `\"` closes nothing) and escapes, across chunk boundaries; it does not validate (`{"a":}` is
 * complete). An object, an array or a string is complete at its closing byte, so an answer ends there
 * whatever the upstream still sends; a top-level number or literal (`42`, `null`) has no closing byte (`4`
 * may be the start of `42`), and is whole only at the body's end, when its characters spell one.
 *
 * @example
 * ```ts
 * const end = new JsonEnd();
 * end.feed(new TextEncoder().encode('{"text":"} \\"","usage":{"output_tokens":3}'));
 * end.complete(); // false: the `}` is quoted
 * end.usageAt(); // 15: where `"usage"` starts
 * end.feed(new TextEncoder().encode("}\n"));
 * end.complete(); // true
 * end.whole(); // true, once the body ends: nothing but whitespace came after
 * ```
 */
export class JsonEnd {
  /** Bytes fed before the chunk being read. */
  #offset = 0;
  #depth = 0;
  #inString = false;
  #escaped = false;
  /** What the first byte other than whitespace started: nothing yet, a container or string, or a scalar. */
  #top: "none" | "delimited" | "scalar" = "none";
  /** The top-level value is an object: its depth-1 strings in key position are its members' names. */
  #object = false;
  #complete = false;
  /**
   * A byte other than whitespace came after the top-level value, or a top-level number or literal grew
   * past {@linkcode _MAX_SCALAR_CHARS}: the body is no one JSON value relay can tell whole, whatever comes.
   */
  #trailing = false;
  /** A top-level number or literal, as far as it came (up to {@linkcode _MAX_SCALAR_CHARS}), and whether it ended. */
  #scalar = "";
  #scalarEnded = false;
  /** At depth 1 of the top-level object, the next string is a member's name. */
  #keyNext = false;
  /** Reading a member's name: how much of `usage` it matched so far, or -1 once it cannot. */
  #keyMatched = -1;
  #keyStart = 0;
  #usageAt: number | undefined;
  /** After the last `usage` name, until the first object or array after it closes, and where it did. */
  #usageOpen = false;
  #usageEnd: number | undefined;
  /** How many of a byte order mark's bytes the body began with. */
  #bomBytes = 0;

  /**
   * Whether the byte at `offset` is part of a byte order mark: only its three bytes, in order, at the
   * body's start, as relay's decoder lets go of one there and no other.
   */
  #inBom(offset: number, byte: number): boolean {
    return offset < BOM_BYTES.length && byte === BOM_BYTES[offset] && this.#bomBytes++ === offset;
  }

  /** Reads the body's next bytes. */
  feed(chunk: Uint8Array): void {
    const length = chunk.byteLength;
    if (this.#trailing) {
      this.#offset += length;
      return;
    }
    // The state a byte changes most, in locals for the loop: most bytes are a string's, skipped in a
    // loop of their own, and most others are inside the top-level value, read in a few comparisons.
    let inString = this.#inString;
    let escaped = this.#escaped;
    let depth = this.#depth;
    let inValue = this.#top === "delimited" && !this.#complete;
    for (let i = 0; i < length; i++) {
      if (inString) {
        if (escaped) {
          escaped = false;
          continue;
        }
        // Any string but a member's name (read byte by byte, for `usage`) is skipped to its next quote
        // or backslash.
        if (this.#keyMatched < 0) {
          while (i < length && chunk[i] !== _QUOTE && chunk[i] !== _BACKSLASH) i++;
          if (i === length) break;
        }
        const byte = chunk[i];
        if (byte === _BACKSLASH) {
          escaped = true;
          // An escaped name is no plain `usage`: Anthropic writes none.
          this.#keyMatched = -1;
        } else if (byte === _QUOTE) {
          inString = false;
          if (depth === 0) {
            this.#complete = true;
            inValue = false;
          } else if (this.#keyNext) this.#nameEnded();
        } else if (this.#keyMatched >= 0) {
          this.#keyMatched = _USAGE[this.#keyMatched] === byte ? this.#keyMatched + 1 : -1;
        }
        continue;
      }
      const byte = chunk[i];
      if (inValue) {
        if (byte === _QUOTE) {
          inString = true;
          if (this.#keyNext && depth === 1) {
            this.#keyMatched = 0;
            this.#keyStart = this.#offset + i;
          }
        } else if (byte === _OPEN_BRACE || byte === _OPEN_BRACKET) depth++;
        else if (byte === _CLOSE_BRACE || byte === _CLOSE_BRACKET) {
          if (--depth === 0) {
            this.#complete = true;
            inValue = false;
          } else if (depth === 1 && this.#usageOpen) {
            this.#usageOpen = false;
            this.#usageEnd = this.#offset + i + 1;
          }
        } else if (byte === _COMMA && depth === 1 && this.#object) this.#keyNext = true;
      } else if (this.#complete) {
        if (!_isWhitespace(byte)) {
          this.#trailing = true;
          break;
        }
      } else if (this.#top === "scalar") {
        this.#readScalar(byte);
        if (this.#trailing) break;
      } else if (byte === _QUOTE || byte === _OPEN_BRACE || byte === _OPEN_BRACKET) {
        this.#top = "delimited";
        inValue = true;
        if (byte === _QUOTE) inString = true;
        else {
          this.#object = byte === _OPEN_BRACE;
          this.#keyNext = this.#object;
          depth = 1;
        }
      } else if (!_isWhitespace(byte) && !this.#inBom(this.#offset + i, byte)) {
        this.#top = "scalar";
        this.#readScalar(byte);
      }
    }
    this.#inString = inString;
    this.#escaped = escaped;
    this.#depth = depth;
    this.#offset += length;
  }

  /**
   * Whether the top-level value is complete: its object, array or string closed. Whatever comes after it
   * is no part of it. A top-level number or literal never is: only the body's end tells ({@linkcode whole}).
   */
  complete(): boolean {
    return this.#complete;
  }

  /**
   * Whether the body, ended where it is, is one whole JSON value: complete with nothing but whitespace
   * after it, or a number or literal whole at the body's end (of at most {@linkcode _MAX_SCALAR_CHARS}
   * characters). A body of whitespace alone, or cut short anywhere (mid-string, mid-object, after a
   * nested `}`), is not.
   */
  whole(): boolean {
    if (this.#trailing) return false;
    if (this.#top === "scalar") return _SCALAR.test(this.#scalar);
    return this.#complete;
  }

  /**
   * Where the top-level object's last `"usage"` member starts (its name's opening quote), as a byte
   * offset from the body's start; `undefined` when it has none so far. A `usage` inside a member (a tool's
   * input) is no message's.
   */
  usageAt(): number | undefined {
    return this.#usageAt;
  }

  /**
   * Where the first object or array after the last `usage` member's name closes, just past its closing
   * byte, as a byte offset from the body's start: that member's end when its value is one (its text,
   * from {@linkcode usageAt}, tells); `undefined` until then.
   */
  usageEnd(): number | undefined {
    return this.#usageEnd;
  }

  /** A member's name at depth 1 ended: the next string is its value's, and the name may be `usage`. */
  #nameEnded(): void {
    if (this.#keyNext && this.#keyMatched === _USAGE.byteLength) {
      this.#usageAt = this.#keyStart;
      this.#usageOpen = true;
      this.#usageEnd = undefined;
    }
    this.#keyNext = false;
    this.#keyMatched = -1;
  }

  #readScalar(byte: number): void {
    if (_isWhitespace(byte)) this.#scalarEnded = true;
    else if (this.#scalarEnded || this.#scalar.length >= _MAX_SCALAR_CHARS) this.#trailing = true;
    else this.#scalar += String.fromCharCode(byte);
  }
}
