/**
 * Input files, checked before any work: stat first (a file far larger than what it claims to be is refused before it
 * is read whole), then strict UTF-8 (invalid bytes are refused with their byte offset, line and column — never decoded
 * into U+FFFD), and a leading UTF-8 byte-order mark is stripped (tools on Windows write one; it carries no meaning in
 * UTF-8). Every refusal is a PipelineError with the caller's reason, one paragraph naming the file and what to do.
 */
import { readFileSync, statSync } from 'node:fs';
import { PipelineError, type PipelineErrorReason } from '../errors.js';

/** Size ceilings per kind of input file, in bytes. A trait or prompt file is a few KB; a dataset is read whole into memory. */
export const MAX_FILE_BYTES = {
  trait: 16 * 1024 * 1024,
  prompts: 16 * 1024 * 1024,
  dataset: 1024 * 1024 * 1024,
} as const;

export interface TextInput {
  file: string;
  /** The file's bytes as read (hashes are taken over these, BOM included). */
  bytes: Buffer;
  /** Decoded text, without a leading byte-order mark. */
  text: string;
  bomStripped: boolean;
}

const mib = (n: number) => `${(n / 1024 / 1024).toFixed(n < 1024 * 1024 ? 3 : 1)} MiB`;

/**
 * The offset of the first byte that is not part of a well-formed UTF-8 sequence (RFC 3629: no overlongs, no surrogates,
 * nothing above U+10FFFF, no truncated sequence), or -1 when all of `b` is valid.
 */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    if (c < 0x80) { i++; continue; }
    let n: number, min: number, max = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) { n = 1; min = 0x80; }
    else if (c === 0xe0) { n = 2; min = 0xa0; }
    else if (c >= 0xe1 && c <= 0xef) { n = 2; min = 0x80; if (c === 0xed) max = 0x9f; }
    else if (c === 0xf0) { n = 3; min = 0x90; }
    else if (c >= 0xf1 && c <= 0xf4) { n = 3; min = 0x80; if (c === 0xf4) max = 0x8f; }
    else return i;
    if (i + n >= b.length) return i; // truncated at the end of the file
    if (b[i + 1] < min || b[i + 1] > max) return i;
    for (let k = 2; k <= n; k++) if ((b[i + k] & 0xc0) !== 0x80) return i;
    i += n + 1;
  }
  return -1;
}

/** 1-based line and byte column of a byte offset. */
export function lineColumn(b: Uint8Array, offset: number): { line: number; column: number } {
  let line = 1, start = 0;
  for (let i = 0; i < offset && i < b.length; i++) if (b[i] === 0x0a) { line++; start = i + 1; }
  return { line, column: offset - start + 1 };
}

/** The bytes around an offset as hex, for the message (`… 61 62 [ff] 63 …`). */
function hexAround(b: Uint8Array, at: number): string {
  const out: string[] = [];
  for (let i = Math.max(0, at - 3); i < Math.min(b.length, at + 4); i++) out.push(i === at ? `[${b[i].toString(16).padStart(2, '0')}]` : b[i].toString(16).padStart(2, '0'));
  return out.join(' ');
}

/** Stat, then refuse a file that is missing, not a file, or over `maxBytes`, before reading it. */
export function checkInputFile(file: string, what: string, reason: PipelineErrorReason, maxBytes: number): number {
  let size: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new PipelineError(reason, `${file}: the ${what} is not a regular file; pass the path of a file`);
    size = st.size;
  } catch (e) {
    if (e instanceof PipelineError) throw e;
    throw new PipelineError(reason, `${file}: cannot read the ${what} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); check the path`);
  }
  if (size > maxBytes) {
    throw new PipelineError(reason, `${file}: the ${what} is ${mib(size)}, more than the ${mib(maxBytes)} a ${what} can be; it was not read. Check that this is the right file.`);
  }
  if (size === 0) throw new PipelineError(reason, `${file}: the ${what} is empty (0 bytes)`);
  return size;
}

/** Decodes bytes as strict UTF-8 (BOM stripped), or throws naming the first invalid byte's offset, line and column. */
export function decodeUtf8(bytes: Buffer, file: string, what: string, reason: PipelineErrorReason): { text: string; bomStripped: boolean } {
  const bad = firstInvalidUtf8(bytes);
  if (bad >= 0) {
    const { line, column } = lineColumn(bytes, bad);
    throw new PipelineError(reason, `${file}: the ${what} is not valid UTF-8: byte offset ${bad} (line ${line}, column ${column}: ${hexAround(bytes, bad)}) ` +
      'does not start a valid UTF-8 sequence. Re-save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`); it was not decoded with replacement characters.');
  }
  const bomStripped = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
  return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes), bomStripped };
}

/** Stat → size check → read → strict UTF-8 (the whole sequence, cheap checks first). */
export function readTextInput(file: string, what: string, reason: PipelineErrorReason, maxBytes: number): TextInput {
  checkInputFile(file, what, reason, maxBytes);
  const bytes = readFileSync(file);
  return { file, bytes, ...decodeUtf8(bytes, file, what, reason) };
}

/** Parses JSON text, naming the line and column of a syntax error. */
export function parseJsonText(text: string, file: string, what: string, reason: PipelineErrorReason): unknown {
  try { return JSON.parse(text); } catch (e) {
    const msg = (e as Error).message;
    const m = /position (\d+)/.exec(msg);
    const where = m ? (() => { const pre = text.slice(0, Number(m[1])); const lines = pre.split('\n'); return ` at line ${lines.length}, column ${lines[lines.length - 1].length + 1}`; })() : '';
    throw new PipelineError(reason, `${file}: the ${what} is not valid JSON${where} (${msg})`, [{ path: '$', message: msg }]);
  }
}
