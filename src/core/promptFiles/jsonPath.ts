/**
 * Where a JSON path ("$.instruction[0].pos", the form core's validators report) lies in a document's text, so an
 * editor can underline the field an error names. jsonc-parser builds the syntax tree with offsets; a path that does not
 * exist (a missing key) resolves to its nearest existing ancestor. A value that is an object or array is marked by its
 * key (underlining a whole array hides the document); a scalar by the value itself. The ESM build is imported: the UMD
 * one (the package's main) loads its parts with dynamic requires that a bundle cannot follow.
 */
import { findNodeAtLocation, parseTree, printParseErrorCode, type Node, type ParseError } from 'jsonc-parser/lib/esm/main.js';

export interface TextSpan { offset: number; length: number }

/** "$.a[0].b" → ['a', 0, 'b']; a key with dots or brackets in it cannot be told apart and is read up to the next one. */
export function parseJsonPath(p: string): (string | number)[] {
  const out: (string | number)[] = [];
  const re = /\.([^.[\]]+)|\[(\d+)\]/g;
  const body = p.startsWith('$') ? p.slice(1) : p;
  let m: RegExpExecArray | null;
  while ((m = re.exec(body))) out.push(m[1] !== undefined ? m[1] : Number(m[2]));
  return out;
}

/** The span of `jsonPath` in `text`, or of its nearest existing ancestor; undefined when the text is not JSON at all. */
export function locateJsonPath(text: string, jsonPath: string): TextSpan | undefined {
  const root = parseTree(text, [], { disallowComments: true, allowTrailingComma: false });
  if (!root) return undefined;
  const segs = parseJsonPath(jsonPath);
  for (let n = segs.length; n >= 0; n--) {
    const node = n === 0 ? root : findNodeAtLocation(root, segs.slice(0, n));
    if (node) return spanOf(node, n === 0);
  }
  return undefined;
}

function spanOf(node: Node, isRoot: boolean): TextSpan {
  const parent = node.parent;
  if ((node.type === 'object' || node.type === 'array') && parent?.type === 'property' && parent.children?.[0]) {
    const key = parent.children[0];
    return { offset: key.offset, length: key.length };
  }
  // The root object: its opening brace (the whole document would be one squiggle).
  if (isRoot && (node.type === 'object' || node.type === 'array')) return { offset: node.offset, length: 1 };
  return { offset: node.offset, length: Math.max(1, node.length) };
}

/** JSON syntax errors (strict: no comments, no trailing commas) with their spans. */
export function jsonSyntaxErrors(text: string): (TextSpan & { message: string })[] {
  const errors: ParseError[] = [];
  parseTree(text, errors, { disallowComments: true, allowTrailingComma: false });
  return errors.map((e) => ({ offset: e.offset, length: Math.max(1, e.length), message: `JSON: ${printParseErrorCode(e.error)}` }));
}
