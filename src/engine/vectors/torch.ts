/**
 * PyTorch `torch.save` files that hold ONE bare tensor — the upstream persona vectors
 * (`<trait>_response_avg_diff.pt`, float32 [L+1, H]) — read and written without Python.
 *
 * Why hand-written: no maintained JavaScript reader for torch's zip + pickle format exists, and we need only a
 * small, well-defined subset of it: one tensor with a float storage. The format (torch ≥ 1.6, the default
 * "zipfile serialization") is a zip archive whose members all sit under one folder, the archive name:
 *   <archive>/data.pkl          the pickled object; each storage is a persistent id
 *                               ('storage', torch.FloatStorage, '<key>', 'cpu', numel)
 *   <archive>/data/<key>        the storage's raw bytes (members STORED; torch pads the local header's extra
 *                               field so the bytes start on a 64-byte boundary)
 *   <archive>/byteorder         "little" | "big" (absent before torch 2.0, meaning little)
 *   <archive>/version, .format_version, .storage_alignment, .data/serialization_id   (not needed to read)
 * A tensor pickles as `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad,
 * OrderedDict())`.
 *
 * Safety: the pickle is interpreted, never executed. Only whitelisted globals are recognised (the tensor and
 * parameter rebuild functions, the `torch.*Storage` classes and `collections.OrderedDict`), each mapped to a
 * fixed TypeScript behaviour; any other global, and any opcode outside the subset torch emits, stops with an
 * error. Nothing in a file can make this code import, call or construct anything else.
 */
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { ReasonError } from '../errors.js';
import type { Reduction } from '../protocol.js';
import { bf16ToFloat32, f16ToFloat32 } from '../weights/safetensors.js';

/**
 * A .pt file that cannot be read as one bare float tensor. The reasons are the words core uses for vector
 * files ('vector-missing' / 'vector-invalid', as in PipelineError), so callers branch on the same reasons.
 */
export type TorchFileErrorReason = 'vector-missing' | 'vector-invalid';

export class TorchFileError extends ReasonError<TorchFileErrorReason> {
  override readonly name = 'TorchFileError';
}

export type TorchDtype = 'float32' | 'float16' | 'bfloat16' | 'float64';

export interface TorchTensor {
  /** dtype of the stored tensor; `data` is always float32 */
  dtype: TorchDtype;
  shape: number[];
  /** values converted to float32, row-major contiguous (strides and storage offset applied) */
  data: Float32Array;
}

const EXPECTED = 'expected one bare float tensor, e.g. torch.save(vec, path)';
const ELEMENT_SIZE: Record<TorchDtype, number> = { float32: 4, float16: 2, bfloat16: 2, float64: 8 };
/** torch.<Name>Storage → dtype; the float ones are readable, the rest are named in errors */
const STORAGE_DTYPES: Record<string, string> = {
  FloatStorage: 'float32', HalfStorage: 'float16', BFloat16Storage: 'bfloat16', DoubleStorage: 'float64',
  LongStorage: 'int64', IntStorage: 'int32', ShortStorage: 'int16', CharStorage: 'int8', ByteStorage: 'uint8',
  BoolStorage: 'bool', ComplexFloatStorage: 'complex64', ComplexDoubleStorage: 'complex128',
  QInt8Storage: 'qint8', QUInt8Storage: 'quint8', QInt32Storage: 'qint32',
};
const isFloatDtype = (d: string): d is TorchDtype => d in ELEMENT_SIZE;
/** Readers refuse bigger files: a persona vector is a few MB, and Node buffers stop at 2 GiB. */
const MAX_FILE_BYTES = 2 ** 31 - 1;

const invalid = (label: string, problem: string) => new TorchFileError('vector-invalid', `${label}: ${problem}`);

// ─── public API ────────────────────────────────────────────────────────────────────────────────────────────

/** Reads a `torch.save` file holding one float tensor. Throws TorchFileError 'vector-missing' / 'vector-invalid'. */
export function readTorchTensor(file: string): TorchTensor {
  let size: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw invalid(file, 'is not a file; expected a .pt file written by torch.save');
    size = st.size;
  } catch (e) {
    if (TorchFileError.is(e)) throw e;
    throw new TorchFileError('vector-missing', `cannot read torch vector file ${file}: ${(e as Error).message}`);
  }
  if (size > MAX_FILE_BYTES) {
    throw invalid(file, `is ${size} bytes; torch files over 2 GiB are not supported (${EXPECTED}, a few MB at most)`);
  }
  let bytes: Uint8Array;
  try { bytes = readFileSync(file); } catch (e) {
    throw new TorchFileError('vector-missing', `cannot read torch vector file ${file}: ${(e as Error).message}`);
  }
  return parseTorchTensor(bytes, file);
}

/** Parses the bytes of a `torch.save` file holding one float tensor; `label` names it in errors. */
export function parseTorchTensor(bytes: Uint8Array, label = '<torch bytes>'): TorchTensor {
  sniffOtherFormats(bytes, label);
  const archive = openArchive(bytes, label);
  const root = unpickle(archive.read('data.pkl'), label);
  let tensor: TensorVal;
  if (isKind(root, 'tensor')) tensor = root;
  else throw invalid(label, `holds ${describe(root)}, not a tensor; ${EXPECTED}${hintFor(root)}`);
  return materialize(tensor, archive, label);
}

/**
 * Writes a float32 tensor as `torch.save(tensor, file)` would: a zip (members STORED, storage bytes 64-byte
 * aligned) that `torch.load(file, weights_only=True)` reads back. Deterministic: fixed timestamps and no
 * random serialization id, so the same input gives the same bytes. `archiveName` defaults to the file's name
 * without its extension, as torch does.
 */
export function writeTorchTensor(file: string, shape: number[], data: Float32Array, archiveName?: string): void {
  const label = file;
  if (!shape.every((n) => Number.isSafeInteger(n) && n >= 0)) throw invalid(label, `shape [${shape.join(', ')}] must be non-negative integers`);
  const numel = shape.reduce((a, b) => a * b, 1);
  if (numel !== data.length) throw invalid(label, `shape [${shape.join(', ')}] holds ${numel} values but data has ${data.length}`);
  if (data.length * 4 >= 0xffff_ff00) throw invalid(label, 'tensor too large to write (over 4 GiB needs zip64, not supported)');
  let archive = archiveName ?? path.basename(file).replace(/\.[^.]*$/, '');
  if (archive === '') archive = 'archive';
  if (/[/\\]/.test(archive)) throw invalid(label, `archive name "${archive}" must not contain a path separator`);

  const storage = new Uint8Array(data.length * 4);
  const dv = new DataView(storage.buffer);
  for (let i = 0; i < data.length; i++) dv.setFloat32(i * 4, data[i], true);
  // the member order and extra records follow torch 2.x's torch.save (less .data/serialization_id, which is random)
  const members: [string, Uint8Array][] = [
    ['data.pkl', tensorPickle(shape, data.length)],
    ['.format_version', ascii('1')],
    ['.storage_alignment', ascii('64')],
    ['byteorder', ascii('little')],
    ['data/0', storage],
    ['version', ascii('3\n')],
  ];
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, buildZip(members.map(([n, b]) => [`${archive}/${n}`, b])));
}

// ─── format sniffing ───────────────────────────────────────────────────────────────────────────────────────

function sniffOtherFormats(b: Uint8Array, label: string): void {
  // legacy torch.save (_use_new_zipfile_serialization=False): a pickled magic number 0x1950a86a20f9469cfc6c first
  if (b.length >= 4 && b[0] === 0x80 && b[1] === 0x02 && b[2] === 0x8a && b[3] === 0x0a) {
    throw invalid(label, 'is a legacy (non-zip) torch file, which is not supported; re-save it with a current torch: '
      + 'torch.save(torch.load(path), path)');
  }
  if (b.length >= 2 && b[0] === 0x80 && b[1] <= 5) {
    throw invalid(label, `is a bare Python pickle, not a torch.save file (a zip archive); ${EXPECTED}`);
  }
  if (b.length >= 262 && ascii(b.subarray(257, 262)) === 'ustar') {
    throw invalid(label, 'is a tar-format torch file (torch < 0.4), which is not supported; re-save it with a current torch');
  }
  if (b.length >= 6 && b[0] === 0x93 && ascii(b.subarray(1, 6)) === 'NUMPY') {
    throw invalid(label, `is a NumPy .npy file, not a torch.save file; ${EXPECTED}`);
  }
  if (b.length >= 9 && b[8] === 0x7b && !(b[0] === 0x50 && b[1] === 0x4b)) {
    throw invalid(label, 'looks like a safetensors file, not a torch.save file; read it as safetensors instead');
  }
}

// ─── zip ───────────────────────────────────────────────────────────────────────────────────────────────────

interface ZipEntry { name: string; method: number; flags: number; crc: number; compressedSize: number; size: number; localOffset: number }

interface Archive {
  prefix: string;
  names: string[];
  has(member: string): boolean;
  /** a member under the archive folder, e.g. 'data.pkl' or 'data/0' */
  read(member: string): Uint8Array;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;

function openArchive(b: Uint8Array, label: string): Archive {
  const entries = readCentralDirectory(b, label);
  if (entries.length === 0) throw invalid(label, `is an empty zip archive; ${EXPECTED}`);
  const prefix = entries[0].name.split('/')[0];
  const byName = new Map(entries.map((e) => [e.name, e]));
  const names = entries.map((e) => e.name);
  const archive: Archive = {
    prefix,
    names,
    has: (m) => byName.has(`${prefix}/${m}`),
    read: (m) => {
      const e = byName.get(`${prefix}/${m}`);
      if (!e) throw invalid(label, `the torch archive has no member ${prefix}/${m} (members: ${names.slice(0, 8).join(', ')}${names.length > 8 ? ', …' : ''}); the file is damaged or not written by torch.save`);
      return entryData(b, e, label);
    },
  };
  if (!archive.has('data.pkl')) {
    if (archive.has('constants.pkl') || names.some((n) => n.includes('/code/'))) {
      throw invalid(label, `is a TorchScript archive (torch.jit.save), not a saved tensor; ${EXPECTED}`);
    }
    throw invalid(label, `is a zip archive but not a torch.save file (no ${prefix}/data.pkl); ${EXPECTED}`);
  }
  return archive;
}

function readCentralDirectory(b: Uint8Array, label: string): ZipEntry[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const u16 = (o: number) => dv.getUint16(o, true);
  const u32 = (o: number) => dv.getUint32(o, true);
  const u64 = (o: number) => {
    const v = dv.getBigUint64(o, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid(label, 'zip64 size or offset out of range; the file is damaged');
    return Number(v);
  };
  const isZip = b.length >= 4 && u32(0) === SIG_LOCAL;
  let eocd = -1;
  for (let o = b.length - 22; o >= Math.max(0, b.length - 22 - 0xffff); o--) {
    if (u32(o) === SIG_EOCD) { eocd = o; break; }
  }
  if (eocd < 0) {
    throw invalid(label, isZip
      ? 'is truncated or damaged: the zip archive has no end-of-central-directory record; copy or download the file again'
      : `is not a torch.save file (not a zip archive); ${EXPECTED}`);
  }
  let count = u16(eocd + 10);
  let cdSize = u32(eocd + 12);
  let cdOffset = u32(eocd + 16);
  if (eocd >= 20 && u32(eocd - 20) === SIG_ZIP64_LOCATOR) {
    const z = u64(eocd - 20 + 8);
    if (z + 56 > b.length || u32(z) !== SIG_ZIP64_EOCD) throw invalid(label, 'is damaged: bad zip64 end-of-central-directory record');
    count = u64(z + 32);
    cdSize = u64(z + 40);
    cdOffset = u64(z + 48);
  }
  if (cdOffset + cdSize > b.length) throw invalid(label, 'is truncated or damaged: the zip central directory lies past the end of the file');
  const entries: ZipEntry[] = [];
  let o = cdOffset;
  for (let i = 0; i < count; i++) {
    if (o + 46 > b.length || u32(o) !== SIG_CENTRAL) throw invalid(label, `is damaged: zip central directory entry ${i} is corrupt`);
    const nameLen = u16(o + 28), extraLen = u16(o + 30), commentLen = u16(o + 32);
    const e: ZipEntry = {
      name: utf8(b.subarray(o + 46, o + 46 + nameLen)), flags: u16(o + 8), method: u16(o + 10), crc: u32(o + 16),
      compressedSize: u32(o + 20), size: u32(o + 24), localOffset: u32(o + 42),
    };
    // zip64 extended information: the 64-bit values of the fields that read 0xffffffff, in this order
    let x = o + 46 + nameLen;
    const xEnd = x + extraLen;
    while (x + 4 <= xEnd) {
      const id = u16(x), len = u16(x + 2);
      if (id === 0x0001) {
        let p = x + 4;
        const next = () => { const v = u64(p); p += 8; return v; };
        if (e.size === 0xffffffff) e.size = next();
        if (e.compressedSize === 0xffffffff) e.compressedSize = next();
        if (e.localOffset === 0xffffffff) e.localOffset = next();
      }
      x += 4 + len;
    }
    entries.push(e);
    o += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

function entryData(b: Uint8Array, e: ZipEntry, label: string): Uint8Array {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const o = e.localOffset;
  if (o + 30 > b.length || dv.getUint32(o, true) !== SIG_LOCAL) throw invalid(label, `is damaged: bad zip local header for ${e.name}`);
  if (e.flags & 1) throw invalid(label, `member ${e.name} is encrypted`);
  // sizes come from the central directory: torch writes zeros here and a data descriptor after the data
  const start = o + 30 + dv.getUint16(o + 26, true) + dv.getUint16(o + 28, true);
  if (start + e.compressedSize > b.length) throw invalid(label, `is truncated: member ${e.name} runs past the end of the file; copy or download it again`);
  const raw = b.subarray(start, start + e.compressedSize);
  let data: Uint8Array;
  if (e.method === 0) data = raw;
  else if (e.method === 8) {
    try { data = inflateRawSync(raw); } catch (err) { throw invalid(label, `member ${e.name} does not inflate: ${(err as Error).message}`); }
  } else throw invalid(label, `member ${e.name} uses zip compression method ${e.method}; only stored and deflate are supported`);
  if (data.length !== e.size) throw invalid(label, `member ${e.name} is ${data.length} bytes, the zip directory says ${e.size}; the file is damaged`);
  if (crc32(data) !== e.crc) throw invalid(label, `member ${e.name} fails its CRC-32 check; the file is damaged — copy or download it again`);
  return data;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (zip's); zlib.crc32 only exists from Node 20.15 and the extension supports 20.10. */
function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * A zip the way torch's writer lays it out: members STORED, each local header's extra field an "FB" record of
 * 'Z' padding that puts the member's data on a 64-byte boundary; fixed DOS time (1980-01-01 00:00).
 * Unlike torch, sizes and CRC go in the local header (no data descriptors) and there is no zip64 record.
 */
function buildZip(members: [string, Uint8Array][]): Uint8Array {
  const ALIGN = 64, DOS_TIME = 0, DOS_DATE = (0 << 9) | (1 << 5) | 1, VERSION = 20, FLAGS = 0x0800; // UTF-8 names
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const [name, data] of members) {
    const nameBytes = new TextEncoder().encode(name);
    const start = offset + 30 + nameBytes.length + 4;
    const pad = (ALIGN - (start % ALIGN)) % ALIGN;
    const crc = crc32(data);
    const local = new Uint8Array(30 + nameBytes.length + 4 + pad);
    const l = new DataView(local.buffer);
    l.setUint32(0, SIG_LOCAL, true); l.setUint16(4, VERSION, true); l.setUint16(6, FLAGS, true); l.setUint16(8, 0, true);
    l.setUint16(10, DOS_TIME, true); l.setUint16(12, DOS_DATE, true); l.setUint32(14, crc, true);
    l.setUint32(18, data.length, true); l.setUint32(22, data.length, true);
    l.setUint16(26, nameBytes.length, true); l.setUint16(28, 4 + pad, true);
    local.set(nameBytes, 30);
    local.set([0x46, 0x42, pad & 0xff, pad >> 8], 30 + nameBytes.length); // "FB" + padding length
    local.fill(0x5a, 30 + nameBytes.length + 4); // 'Z'
    const cd = new Uint8Array(46 + nameBytes.length);
    const c = new DataView(cd.buffer);
    c.setUint32(0, SIG_CENTRAL, true); c.setUint16(4, VERSION, true); c.setUint16(6, VERSION, true); c.setUint16(8, FLAGS, true);
    c.setUint16(10, 0, true); c.setUint16(12, DOS_TIME, true); c.setUint16(14, DOS_DATE, true); c.setUint32(16, crc, true);
    c.setUint32(20, data.length, true); c.setUint32(24, data.length, true); c.setUint16(28, nameBytes.length, true);
    c.setUint32(42, offset, true);
    cd.set(nameBytes, 46);
    parts.push(local, data);
    central.push(cd);
    offset += local.length + data.length;
  }
  const cdSize = central.reduce((a, p) => a + p.length, 0);
  const eocd = new Uint8Array(22);
  const e = new DataView(eocd.buffer);
  e.setUint32(0, SIG_EOCD, true); e.setUint16(8, members.length, true); e.setUint16(10, members.length, true);
  e.setUint32(12, cdSize, true); e.setUint32(16, offset, true);
  return Buffer.concat([...parts, ...central, eocd]);
}

// ─── pickle ────────────────────────────────────────────────────────────────────────────────────────────────

interface TupleVal { kind: 'tuple'; items: PVal[] }
interface ListVal { kind: 'list'; items: PVal[] }
interface DictVal { kind: 'dict'; entries: [PVal, PVal][] }
interface BytesVal { kind: 'bytes'; length: number }
interface GlobalVal { kind: 'global'; module: string; name: string }
interface StorageTypeVal { kind: 'storage-type'; dtype: string; name: string }
interface StorageVal { kind: 'storage'; dtype: string; typeName: string; key: string; numel: number }
interface TensorVal { kind: 'tensor'; storage: StorageVal; offset: number; shape: number[]; stride: number[] }
type PObj = TupleVal | ListVal | DictVal | BytesVal | GlobalVal | StorageTypeVal | StorageVal | TensorVal;
type PVal = null | boolean | number | bigint | string | PObj;

const MARK: unique symbol = Symbol('mark');
type StackItem = PVal | typeof MARK;

const isKind = <K extends PObj['kind']>(v: unknown, k: K): v is Extract<PObj, { kind: K }> =>
  typeof v === 'object' && v !== null && (v as PObj).kind === k;

/** The callable globals a torch tensor file may name; anything else is refused. */
const FUNCTIONS = new Set([
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_tensor',
  'torch._utils._rebuild_parameter',
  'collections.OrderedDict',
]);

function resolveGlobal(module: string, name: string, label: string): PVal {
  const full = `${module}.${name}`;
  if (FUNCTIONS.has(full)) return { kind: 'global', module, name };
  if ((module === 'torch' || module === 'torch.storage') && name in STORAGE_DTYPES) return { kind: 'storage-type', dtype: STORAGE_DTYPES[name], name };
  throw invalid(label, `contains a pickled ${full}, which is not part of a bare tensor; ${EXPECTED}. `
    + '(Persona Lab never runs pickled code; it reads only the tensor subset of the format.)');
}

function unpickle(p: Uint8Array, label: string): PVal {
  const dv = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const stack: StackItem[] = [];
  const memo = new Map<number, PVal>();
  let pos = 0;
  const bad = (what: string): never => { throw invalid(label, `data.pkl is not a torch tensor pickle: ${what}`); };
  const need = (n: number) => { if (pos + n > p.length) bad('it ends early (truncated)'); };
  const u8 = () => { need(1); return p[pos++]; };
  const u16 = () => { need(2); const v = dv.getUint16(pos, true); pos += 2; return v; };
  const u32 = () => { need(4); const v = dv.getUint32(pos, true); pos += 4; return v; };
  const i32 = () => { need(4); const v = dv.getInt32(pos, true); pos += 4; return v; };
  const bytes = (n: number) => { need(n); const v = p.subarray(pos, pos + n); pos += n; return v; };
  const line = () => {
    const end = p.indexOf(0x0a, pos);
    if (end < 0) bad('unterminated text line');
    const s = ascii(p.subarray(pos, end)); pos = end + 1; return s;
  };
  const pop = (): PVal => {
    const v = stack.pop();
    if (v === undefined || v === MARK) bad('stack underflow');
    return v as PVal;
  };
  const top = (): PVal => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK) bad('stack underflow');
    return v as PVal;
  };
  const popMark = (): PVal[] => {
    const m = stack.lastIndexOf(MARK);
    if (m < 0) bad('no MARK on the stack');
    const items = stack.splice(m) as PVal[];
    items.shift();
    return items;
  };
  const long = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const setItems = (target: PVal, items: PVal[]) => {
    if (!isKind(target, 'dict')) bad('SETITEMS on a non-dict');
    for (let i = 0; i + 1 < items.length; i += 2) (target as DictVal).entries.push([items[i], items[i + 1]]);
  };
  const appendItems = (target: PVal, items: PVal[]) => {
    if (!isKind(target, 'list')) bad('APPENDS on a non-list');
    (target as ListVal).items.push(...items);
  };

  for (;;) {
    const at = pos;
    const op = u8();
    switch (op) {
      case 0x80: u8(); break;                                     // PROTO
      case 0x95: bytes(8); break;                                 // FRAME (length only)
      case 0x2e: return pop();                                    // STOP
      case 0x28: stack.push(MARK); break;                         // MARK
      case 0x63: {                                                // GLOBAL "module\nname\n"
        const module = line(); const name = line();
        stack.push(resolveGlobal(module, name, label)); break;
      }
      case 0x93: {                                                // STACK_GLOBAL
        const name = pop(), module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') bad('STACK_GLOBAL without strings');
        stack.push(resolveGlobal(module as string, name as string, label)); break;
      }
      case 0x71: memo.set(u8(), top()); break;                    // BINPUT
      case 0x72: memo.set(u32(), top()); break;                   // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break;               // MEMOIZE
      case 0x68: case 0x6a: {                                     // BINGET, LONG_BINGET
        const k = op === 0x68 ? u8() : u32();
        if (!memo.has(k)) bad(`memo key ${k} missing`);
        stack.push(memo.get(k)!); break;
      }
      case 0x4e: stack.push(null); break;                         // NONE
      case 0x88: stack.push(true); break;                         // NEWTRUE
      case 0x89: stack.push(false); break;                        // NEWFALSE
      case 0x4b: stack.push(u8()); break;                         // BININT1
      case 0x4d: stack.push(u16()); break;                        // BININT2
      case 0x4a: stack.push(i32()); break;                        // BININT
      case 0x8a: stack.push(long(bytes(u8()))); break;            // LONG1
      case 0x8b: stack.push(long(bytes(u32()))); break;           // LONG4
      case 0x47: { need(8); stack.push(dv.getFloat64(pos, false)); pos += 8; break; } // BINFLOAT
      case 0x58: stack.push(utf8(bytes(u32()))); break;           // BINUNICODE
      case 0x8c: stack.push(utf8(bytes(u8()))); break;            // SHORT_BINUNICODE
      case 0x43: stack.push({ kind: 'bytes', length: bytes(u8()).length }); break;  // SHORT_BINBYTES
      case 0x42: stack.push({ kind: 'bytes', length: bytes(u32()).length }); break; // BINBYTES
      case 0x29: stack.push({ kind: 'tuple', items: [] }); break; // EMPTY_TUPLE
      case 0x85: case 0x86: case 0x87: {                          // TUPLE1..3
        const n = op - 0x84;
        const items: PVal[] = [];
        for (let i = 0; i < n; i++) items.unshift(pop());
        stack.push({ kind: 'tuple', items }); break;
      }
      case 0x74: stack.push({ kind: 'tuple', items: popMark() }); break;            // TUPLE
      case 0x5d: stack.push({ kind: 'list', items: [] }); break;  // EMPTY_LIST
      case 0x6c: stack.push({ kind: 'list', items: popMark() }); break;             // LIST
      case 0x61: { const v = pop(); appendItems(top(), [v]); break; }               // APPEND
      case 0x65: { const items = popMark(); appendItems(top(), items); break; }     // APPENDS
      case 0x7d: stack.push({ kind: 'dict', entries: [] }); break; // EMPTY_DICT
      case 0x64: {                                                // DICT
        const items = popMark();
        const d: DictVal = { kind: 'dict', entries: [] };
        setItems(d, items); stack.push(d); break;
      }
      case 0x73: { const v = pop(), k = pop(); setItems(top(), [k, v]); break; }    // SETITEM
      case 0x75: { const items = popMark(); setItems(top(), items); break; }        // SETITEMS
      case 0x30: pop(); break;                                    // POP
      case 0x31: popMark(); break;                                // POP_MARK
      case 0x32: stack.push(top()); break;                        // DUP
      case 0x51: stack.push(persistentLoad(pop(), label)); break; // BINPERSID
      case 0x52: {                                                // REDUCE
        const args = pop(), fn = pop();
        stack.push(reduce(fn, args, label)); break;
      }
      case 0x62: {                                                // BUILD: only attribute state on a dict (OrderedDict._metadata)
        pop();
        if (!isKind(top(), 'dict')) bad(`BUILD on ${describe(top())}`);
        break;
      }
      default:
        bad(`unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')} ('${String.fromCharCode(op)}') at byte ${at}; ${EXPECTED}`);
    }
  }
}

/** BINPERSID: torch's storage reference ('storage', torch.<T>Storage, key, location, numel). */
function persistentLoad(pid: PVal, label: string): StorageVal {
  const items = isKind(pid, 'tuple') ? pid.items : [];
  const [tag, type, key, , numel] = items;
  if (items.length !== 5 || tag !== 'storage' || !isKind(type, 'storage-type') || typeof key !== 'string' || !isInt(numel)) {
    throw invalid(label, `data.pkl has a persistent id that is not a torch storage reference (${describe(pid)}); ${EXPECTED}`);
  }
  return { kind: 'storage', dtype: type.dtype, typeName: type.name, key, numel };
}

function reduce(fn: PVal, args: PVal, label: string): PVal {
  if (!isKind(fn, 'global') || !isKind(args, 'tuple')) throw invalid(label, `data.pkl calls ${describe(fn)}, which is not part of a bare tensor; ${EXPECTED}`);
  const a = args.items;
  const full = `${fn.module}.${fn.name}`;
  const ints = (v: PVal, what: string): number[] => {
    if (!isKind(v, 'tuple') || !v.items.every(isInt)) throw invalid(label, `${full}: ${what} is ${describe(v)}, expected a tuple of integers`);
    return v.items as number[];
  };
  switch (full) {
    case 'collections.OrderedDict':
      if (a.length !== 0) throw invalid(label, `data.pkl builds an OrderedDict from arguments; ${EXPECTED}`);
      return { kind: 'dict', entries: [] };
    case 'torch._utils._rebuild_tensor_v2':   // (storage, offset, size, stride, requires_grad, backward_hooks[, metadata])
    case 'torch._utils._rebuild_tensor': {    // (storage, offset, size, stride)
      const [storage, offset, size, stride] = a;
      if (a.length < 4 || !isKind(storage, 'storage') || !isInt(offset)) throw invalid(label, `${full} has unexpected arguments (${describe(args)})`);
      return { kind: 'tensor', storage, offset, shape: ints(size, 'size'), stride: ints(stride, 'stride') };
    }
    case 'torch._utils._rebuild_parameter': { // nn.Parameter(data, requires_grad, backward_hooks): take the data
      const [data] = a;
      if (!isKind(data, 'tensor')) throw invalid(label, `${full} wraps ${describe(data)}, not a tensor`);
      return data;
    }
  }
  throw invalid(label, `data.pkl calls ${full}, which is not part of a bare tensor; ${EXPECTED}`);
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);

function describe(v: PVal): string {
  if (v === null) return 'None';
  if (typeof v === 'boolean') return `a bool (${v})`;
  if (typeof v === 'number' || typeof v === 'bigint') return `a number (${v})`;
  if (typeof v === 'string') return `a string ("${v.length > 40 ? v.slice(0, 40) + '…' : v}")`;
  switch (v.kind) {
    case 'tuple': return `a tuple of ${v.items.length}`;
    case 'list': return `a list of ${v.items.length} item${v.items.length === 1 ? '' : 's'}`;
    case 'dict': {
      const keys = v.entries.map(([k]) => (typeof k === 'string' ? JSON.stringify(k) : describe(k)));
      return `a dict with ${keys.length} key${keys.length === 1 ? '' : 's'}${keys.length ? ` (${keys.slice(0, 6).join(', ')}${keys.length > 6 ? ', …' : ''})` : ''}`;
    }
    case 'bytes': return `bytes (${v.length})`;
    case 'global': return `${v.module}.${v.name}`;
    case 'storage-type': return `torch.${v.name}`;
    case 'storage': return `a bare storage (torch.${v.typeName})`;
    case 'tensor': return `a tensor [${v.shape.join(', ')}]`;
  }
}

/** Extra advice for the common mistakes: a dict or list of tensors. */
function hintFor(v: PVal): string {
  if (isKind(v, 'dict')) {
    const k = v.entries.find(([, val]) => isKind(val, 'tensor'))?.[0];
    return typeof k === 'string' ? `; to save one entry: torch.save(d[${JSON.stringify(k)}], path)` : '';
  }
  if (isKind(v, 'list') && v.items.some((x) => isKind(x, 'tensor'))) return '; to save one item: torch.save(items[0], path)';
  return '';
}

// ─── tensor data ───────────────────────────────────────────────────────────────────────────────────────────

function materialize(t: TensorVal, archive: Archive, label: string): TorchTensor {
  const { storage, offset, shape, stride } = t;
  if (!isFloatDtype(storage.dtype)) {
    throw invalid(label, `holds a tensor of dtype ${storage.dtype} (torch.${storage.typeName}); expected a float tensor (float32, float16, bfloat16 or float64), e.g. torch.save(vec.float(), path)`);
  }
  const dtype = storage.dtype;
  if (shape.length !== stride.length) throw invalid(label, `tensor size [${shape}] and stride [${stride}] differ in length`);
  if (shape.some((n) => n < 0) || stride.some((s) => s < 0) || offset < 0) throw invalid(label, `tensor has a negative size, stride or offset (size [${shape}], stride [${stride}], offset ${offset})`);
  const numel = shape.reduce((a, b) => a * b, 1);
  let order = 'little';
  if (archive.has('byteorder')) {
    order = ascii(archive.read('byteorder')).trim();
    if (order !== 'little' && order !== 'big') throw invalid(label, `unknown byteorder "${order}" (expected "little" or "big")`);
  }
  const bytes = archive.read(`data/${storage.key}`);
  const esize = ELEMENT_SIZE[dtype];
  if (bytes.length < storage.numel * esize) {
    throw invalid(label, `storage data/${storage.key} has ${bytes.length} bytes, but ${storage.numel} ${dtype} values need ${storage.numel * esize}; the file is damaged`);
  }
  if (numel > 0) {
    const last = offset + shape.reduce((a, n, i) => a + (n - 1) * stride[i], 0);
    if (last >= storage.numel) throw invalid(label, `tensor view (size [${shape}], stride [${stride}], offset ${offset}) reaches past its storage of ${storage.numel} values; the file is damaged`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = order === 'little';
  const get = elementReader(dtype, dv, le);
  const out = new Float32Array(numel);
  const nd = shape.length;
  const idx = new Array<number>(nd).fill(0);
  let src = offset;
  for (let i = 0; i < numel; i++) {
    out[i] = get(src);
    for (let d = nd - 1; d >= 0; d--) { // row-major odometer over the view
      src += stride[d];
      if (++idx[d] < shape[d]) break;
      src -= stride[d] * shape[d];
      idx[d] = 0;
    }
  }
  return { dtype, shape: [...shape], data: out };
}

function elementReader(dtype: TorchDtype, dv: DataView, le: boolean): (i: number) => number {
  switch (dtype) {
    case 'float32': return (i) => dv.getFloat32(i * 4, le);
    case 'float64': return (i) => dv.getFloat64(i * 8, le);
    // The one f16 / bf16 decoder (src/engine/weights/safetensors.ts).
    case 'float16': return (i) => f16ToFloat32(dv.getUint16(i * 2, le));
    case 'bfloat16': return (i) => bf16ToFloat32(dv.getUint16(i * 2, le));
  }
}

// ─── pickle writer ─────────────────────────────────────────────────────────────────────────────────────────

/** The protocol-2 pickle torch.save emits for a contiguous float32 tensor in storage 'data/0', memo and all. */
function tensorPickle(shape: number[], numel: number): Uint8Array {
  const out: number[] = [];
  let memo = 0;
  const put = () => { out.push(0x71, memo++); };        // BINPUT n (fewer than 256 memo entries here)
  const raw = (s: string) => { for (const ch of new TextEncoder().encode(s)) out.push(ch); };
  const global = (m: string, n: string) => { out.push(0x63); raw(`${m}\n${n}\n`); put(); };
  const str = (s: string) => {
    const b = new TextEncoder().encode(s);
    out.push(0x58, b.length & 0xff, (b.length >> 8) & 0xff, (b.length >> 16) & 0xff, b.length >>> 24, ...b); put();
  };
  const int = (v: number) => {                          // as Python's pickle: smallest encoding
    if (v >= 0 && v <= 0xff) out.push(0x4b, v);
    else if (v >= 0 && v <= 0xffff) out.push(0x4d, v & 0xff, v >> 8);
    else if (v >= -0x80000000 && v <= 0x7fffffff) out.push(0x4a, v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff);
    else {                                              // LONG1, two's complement little-endian
      const b: number[] = [];
      let x = BigInt(v);
      do { b.push(Number(x & 0xffn)); x >>= 8n; } while (x !== 0n && x !== -1n);
      if ((b[b.length - 1] & 0x80) !== (v < 0 ? 0x80 : 0)) b.push(v < 0 ? 0xff : 0);
      out.push(0x8a, b.length, ...b);
    }
  };
  const tuple = (items: number[]) => {
    if (items.length === 0) { out.push(0x29); return; } // EMPTY_TUPLE, not memoized
    if (items.length > 3) out.push(0x28);
    items.forEach(int);
    out.push(items.length > 3 ? 0x74 : 0x84 + items.length); put();
  };
  const stride = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * Math.max(b, 1), 1)); // torch's contiguous strides
  out.push(0x80, 2);                                    // PROTO 2
  global('torch._utils', '_rebuild_tensor_v2');
  out.push(0x28, 0x28);                                 // MARK (args) MARK (persistent id)
  str('storage'); global('torch', 'FloatStorage'); str('0'); str('cpu'); int(numel);
  out.push(0x74); put();                                // TUPLE
  out.push(0x51);                                       // BINPERSID
  int(0);                                               // storage offset
  tuple(shape);
  tuple(stride);
  out.push(0x89);                                       // requires_grad False
  global('collections', 'OrderedDict'); out.push(0x29, 0x52); put(); // OrderedDict()
  out.push(0x74); put();                                // TUPLE (args)
  out.push(0x52); put();                                // REDUCE
  out.push(0x2e);                                       // STOP
  return Uint8Array.from(out);
}

// ─── helpers ───────────────────────────────────────────────────────────────────────────────────────────────

function ascii(s: string): Uint8Array;
function ascii(b: Uint8Array): string;
function ascii(x: string | Uint8Array): string | Uint8Array {
  if (typeof x === 'string') return Uint8Array.from(x, (c) => c.charCodeAt(0));
  return Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('latin1');
}

const utf8 = (b: Uint8Array) => new TextDecoder().decode(b);

/** The kind an upstream vector file's name states (`evil_prompt_last_diff.pt` → prompt_last), else response_avg (upstream's default). */
export function torchVectorKind(file: string): Reduction {
  const m = /(prompt_avg|response_avg|prompt_last)_diff\.pt$/.exec(path.basename(file));
  return (m?.[1] as Reduction | undefined) ?? 'response_avg';
}
