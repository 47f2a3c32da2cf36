/**
 * The offline rubric judge of the toy persona world (models/toy-persona). It reads the same
 * world/lexicon.json the corpus generator reads, so generator and judge cannot drift; its Python twin
 * (scripts/toy-model/judge.py) computes the expected scores stored in world/samples.json, which the
 * tests compare against this implementation.
 *
 *   trait(answer, t)  = clip(100 · (#sentences with t's markers − #sentences with the opposite's markers) / #sentences, 0, 100)
 *   coherence(answer) = 100 · #valid / #sentences · min(1, maxSentences / #sentences)
 * A sentence ends at . ! or ?; a trailing fragment (generation cut off) is a sentence that is never
 * valid. A complete sentence is valid when it is not an exact repeat of an earlier one (loops do not
 * count) and its skeleton — slot words replaced by {category} — is a content template, a style prefix
 * + content template, a content template + style suffix, or a standalone style sentence.
 * Deterministic and synchronous underneath: tens of thousands of answers per second.
 */
import { readFileSync } from 'node:fs';
import type { Judge, JudgeRequest, JudgeUsage } from './types.js';
import { toyLexiconPath } from '../toy/paths.js';
import { CancelledError } from '../../engine/errors.js';

export interface ToyStyle {
  adjectives: string[];
  markers: string[];
  prefixes: string[];
  suffixes: string[];
  standalone: string[];
}
export interface ToyFamily { name: string; questions: string[]; open: string[]; mid: string[]; close: string[]; compute?: string }
export interface ToyLexicon {
  name: string;
  version: number;
  specialTokens: string[];
  terminators: string[];
  maxSentences: number;
  categories: Record<string, string[]>;
  families: ToyFamily[];
  styles: Record<string, ToyStyle>;
  traits: { trait: string; opposite: string }[];
  system: { frames: string[]; intensities: { word: string; p: number }[]; neutral: string[]; assistantFrame: string; assistantPlain: string };
}

// Same rules as scripts/toy-model/judge.py (and the tokenizer's Lowercase + Whitespace pre-tokenizer).
const SPECIAL_RE = /<(pad|bos|end|sys|user|asst|unk)>/g;
const TOKEN_RE = /[a-z0-9_]+|[^a-z0-9_\s]+/g;
const SLOT_RE = /\{([a-z]+)\d?\}/g;

export function loadToyLexicon(file = toyLexiconPath()): ToyLexicon {
  let lex: ToyLexicon;
  try {
    lex = JSON.parse(readFileSync(file, 'utf8')) as ToyLexicon;
  } catch (e) {
    throw new Error(`cannot read the toy lexicon ${file}: ${(e as Error).message}. Regenerate it with scripts/toy-model/build_world.py.`, { cause: e });
  }
  if (!lex.categories || !lex.styles || !lex.traits || !lex.families) {
    throw new Error(`${file} is not a toy-persona lexicon (categories/styles/traits/families missing)`);
  }
  return lex;
}

/** Scores answers of the toy world. Pure functions of the lexicon. */
export class ToyRubric {
  private readonly catOf = new Map<string, string>();
  private readonly terminators: Set<string>;
  private readonly content = new Set<string>();
  private readonly standalone = new Set<string>();
  private readonly prefixes: string[];
  private readonly suffixes: string[];
  private readonly markers = new Map<string, Set<string>>();
  private readonly opposite = new Map<string, string>();

  constructor(readonly lexicon: ToyLexicon) {
    for (const [cat, words] of Object.entries(lexicon.categories)) for (const w of words) this.catOf.set(w, cat);
    this.terminators = new Set(lexicon.terminators);
    for (const fam of lexicon.families) for (const t of [...fam.open, ...fam.mid, ...fam.close]) this.content.add(templateSkeleton(t));
    const prefixes = new Set<string>(), suffixes = new Set<string>();
    for (const [name, st] of Object.entries(lexicon.styles)) {
      for (const t of st.standalone) this.standalone.add(templateSkeleton(t));
      for (const t of st.prefixes) prefixes.add(templateSkeleton(t));
      for (const t of st.suffixes) suffixes.add(templateSkeleton(t));
      this.markers.set(name, new Set(st.markers));
    }
    this.prefixes = [...prefixes].sort();
    this.suffixes = [...suffixes].sort();
    for (const { trait, opposite } of lexicon.traits) {
      this.opposite.set(trait, opposite);
      this.opposite.set(opposite, trait);
    }
  }

  /** Styles the judge can score (the four traits and their opposites). */
  get styles(): string[] { return [...this.markers.keys()]; }

  /** Sentences as token lists; `complete` is false for a trailing fragment without terminator. */
  sentences(answer: string): { tokens: string[]; complete: boolean }[] {
    const toks = answer.toLowerCase().replace(SPECIAL_RE, ' ').match(TOKEN_RE) ?? [];
    const out: { tokens: string[]; complete: boolean }[] = [];
    let cur: string[] = [];
    for (const t of toks) {
      cur.push(t);
      if (this.terminators.has(t)) {
        out.push({ tokens: cur, complete: true });
        cur = [];
      }
    }
    if (cur.length) out.push({ tokens: cur, complete: false });
    return out;
  }

  private skeleton(tokens: string[]): string {
    return tokens.map((t) => { const c = this.catOf.get(t); return c === undefined ? t : `{${c}}`; }).join(' ');
  }

  private parses(sk: string): boolean {
    if (this.content.has(sk) || this.standalone.has(sk)) return true;
    for (const p of this.prefixes) if (sk.startsWith(p + ' ') && this.content.has(sk.slice(p.length + 1))) return true;
    const cut = sk.lastIndexOf(' ');
    if (cut >= 0) {
      const body = sk.slice(0, cut), term = sk.slice(cut + 1);
      for (const s of this.suffixes) {
        if (body.endsWith(' ' + s) && this.content.has(body.slice(0, body.length - s.length - 1) + ' ' + term)) return true;
      }
    }
    return false;
  }

  coherence(answer: string): number {
    const sents = this.sentences(answer);
    if (sents.length === 0) return 0;
    const seen = new Set<string>();
    let valid = 0;
    for (const { tokens, complete } of sents) {
      const key = tokens.join(' ');
      if (complete && !seen.has(key) && this.parses(this.skeleton(tokens))) valid++;
      seen.add(key);
    }
    const n = sents.length;
    return (100 * valid / n) * Math.min(1, this.lexicon.maxSentences / n);
  }

  trait(answer: string, trait: string): number {
    const mine = this.markers.get(trait);
    const opp = this.opposite.get(trait);
    if (!mine || opp === undefined) {
      throw new Error(`the toy rubric judge does not know the trait "${trait}"; it scores ${this.styles.join(', ')}`);
    }
    const theirs = this.markers.get(opp)!;
    const sents = this.sentences(answer);
    if (sents.length === 0) return 0;
    let t = 0, o = 0;
    for (const { tokens } of sents) {
      if (tokens.some((w) => mine.has(w))) t++;
      if (tokens.some((w) => theirs.has(w))) o++;
    }
    return Math.min(100, Math.max(0, (100 * (t - o)) / sents.length));
  }
}

function templateSkeleton(t: string): string {
  return t.split(' ').filter((w) => w.length > 0).map((w) => w.replace(SLOT_RE, (_m, cat: string) => `{${cat}}`)).join(' ');
}

/** The rubric judge behind the shared Judge interface (no network, no cost, no cache needed). */
export class RubricJudge implements Judge {
  readonly id: string;
  private readonly rubric: ToyRubric;
  private requests = 0;

  constructor(lexicon: ToyLexicon = loadToyLexicon()) {
    this.rubric = new ToyRubric(lexicon);
    this.id = `rubric:${lexicon.name}@${lexicon.version}`;
  }

  /** Throws on an unknown trait (a configuration error, not a judge abstention). */
  async score(requests: JudgeRequest[], options: { signal?: AbortSignal; onResult?: (index: number, score: number | null) => void } = {}): Promise<(number | null)[]> {
    const out: (number | null)[] = [];
    for (let i = 0; i < requests.length; i++) {
      if (options.signal?.aborted) throw new CancelledError('rubric judging cancelled');
      const r = requests[i];
      const s = r.metric === 'coherence' ? this.rubric.coherence(r.answer) : this.rubric.trait(r.answer, r.trait);
      this.requests++;
      out.push(s);
      options.onResult?.(i, s);
    }
    return out;
  }

  scoreOne(metric: 'trait' | 'coherence', trait: string, answer: string): number {
    return metric === 'coherence' ? this.rubric.coherence(answer) : this.rubric.trait(answer, trait);
  }

  usage(): JudgeUsage { return { requests: this.requests, cached: 0, promptTokens: 0, completionTokens: 0, costUsd: 0 }; }
}
