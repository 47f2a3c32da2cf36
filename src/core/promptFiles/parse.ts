/**
 * Prompt files, as the editor's CodeLens actions read them (no vscode: unit-tested in test/core/promptFiles):
 *   - JSONL, one prompt per line: {"prompt": "…"} or a chat {"messages": [{"role", "content"}, …]}. A trailing
 *     assistant message is the answer a dataset row already carries (a screening dataset is also a prompt file): it is
 *     dropped, and the model answers the conversation before it.
 *   - Markdown: fenced code blocks whose info string is `prompt` (``` or ~~~, CommonMark's fence rules); the block's
 *     text is the prompt.
 * Every prompt keeps the 0-based lines it spans, so the editor can put its lens above it and its result after it.
 * Problems (bad JSON, a message without text) are listed by line and never stop the other prompts.
 */
import type { ChatMessage, PromptInput } from '../../engine/protocol.js';
import type { ModelKind } from '../prompts.js';
import { evalPrompt } from '../prompts.js';

export type PromptFileKind = 'jsonl' | 'markdown';

export interface PromptEntry {
  /** 0-based among the file's prompts. */
  index: number;
  /** 0-based first and last line (a JSONL line; a fence's opening and closing lines). */
  line: number;
  endLine: number;
  /** Exactly one of text / messages. */
  text?: string;
  messages?: ChatMessage[];
  /** What the judge sees as the question: the text, or the last user message. */
  question: string;
}

export interface PromptFileProblem { line: number; message: string }

export interface ParsedPromptFile { kind: PromptFileKind; prompts: PromptEntry[]; problems: PromptFileProblem[] }

/** The kind of prompt file a file name is, or undefined. */
export function promptFileKind(fileName: string): PromptFileKind | undefined {
  const f = fileName.toLowerCase();
  if (f.endsWith('.jsonl')) return 'jsonl';
  if (f.endsWith('.md') || f.endsWith('.markdown')) return 'markdown';
  return undefined;
}

export function parsePromptFile(text: string, kind: PromptFileKind): ParsedPromptFile {
  return kind === 'jsonl' ? parseJsonl(text) : parseMarkdown(text);
}

const ROLES = new Set(['system', 'user', 'assistant']);

function parseJsonl(text: string): ParsedPromptFile {
  const prompts: PromptEntry[] = [];
  const problems: PromptFileProblem[] = [];
  text.split(/\r?\n/).forEach((raw, line) => {
    if (!raw.trim()) return;
    let o: unknown;
    try { o = JSON.parse(raw); } catch (e) { problems.push({ line, message: `not JSON (${(e as Error).message})` }); return; }
    if (!o || typeof o !== 'object' || Array.isArray(o)) { problems.push({ line, message: 'not a JSON object' }); return; }
    const r = o as Record<string, unknown>;
    if (typeof r.prompt === 'string') {
      if (!r.prompt.trim()) { problems.push({ line, message: '"prompt" is empty' }); return; }
      prompts.push({ index: prompts.length, line, endLine: line, text: r.prompt, question: r.prompt });
      return;
    }
    if (Array.isArray(r.messages)) {
      const msgs: ChatMessage[] = [];
      for (const [k, m] of r.messages.entries()) {
        const mm = (m && typeof m === 'object' ? m : {}) as Record<string, unknown>;
        if (!ROLES.has(mm.role as string) || typeof mm.content !== 'string') {
          problems.push({ line, message: `messages[${k}] must be {"role": "system"|"user"|"assistant", "content": "<text>"}` });
          return;
        }
        msgs.push({ role: mm.role as ChatMessage['role'], content: mm.content });
      }
      while (msgs.length && msgs[msgs.length - 1].role === 'assistant') msgs.pop();
      const user = [...msgs].reverse().find((m) => m.role === 'user');
      if (!user) { problems.push({ line, message: 'no user message to answer' }); return; }
      prompts.push({ index: prompts.length, line, endLine: line, messages: msgs, question: user.content });
      return;
    }
    problems.push({ line, message: 'expected {"prompt": "…"} or {"messages": [...]}' });
  });
  return { kind: 'jsonl', prompts, problems };
}

/** CommonMark fences: up to 3 spaces, then ≥3 backticks or tildes; closed by the same character, at least as many, nothing after. */
const OPEN = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)(.*)$/;

function parseMarkdown(text: string): ParsedPromptFile {
  const lines = text.split(/\r?\n/);
  const prompts: PromptEntry[] = [];
  const problems: PromptFileProblem[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = OPEN.exec(lines[i]);
    if (!m) continue;
    const fence = m[1];
    const close = new RegExp(`^ {0,3}${fence[0] === '`' ? '`' : '~'}{${fence.length},}\\s*$`);
    let j = i + 1;
    while (j < lines.length && !close.test(lines[j])) j++;
    if (m[2].toLowerCase() === 'prompt') {
      const body = lines.slice(i + 1, j).join('\n').trim();
      if (j >= lines.length) problems.push({ line: i, message: 'this prompt block is never closed' });
      else if (!body) problems.push({ line: i, message: 'this prompt block is empty' });
      else prompts.push({ index: prompts.length, line: i, endLine: j, text: body, question: body });
    }
    i = j;
  }
  return { kind: 'markdown', prompts, problems };
}

/** The prompt a model of `kind` is given: a text is wrapped like an evaluation question; a chat for a base model is its messages' text. */
export function promptInput(p: PromptEntry, kind: ModelKind): PromptInput {
  if (p.messages) return kind === 'chat' ? { messages: p.messages } : { text: p.messages.map((m) => m.content).join('\n') };
  return evalPrompt(kind, p.text!);
}
