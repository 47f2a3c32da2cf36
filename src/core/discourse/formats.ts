/**
 * Base-model trait data in the second paper's three discourse types (pretraining_persona §6; digest §1.4, §10.7), in the
 * upstream trait-file schema (../traits/schema.ts) with a format check per type on top:
 *
 *   description  character portrayals — pos/neg instructions describe "Alex" (trait / not trait), questions are situations
 *                to continue ("If Alex found his neighbor's lost wallet…"); upstream `<trait>_character_neutral_q.json`
 *   story        narrated stories — pos/neg instructions are few-shot lists of "Story: …" texts, extraction questions
 *                start with "Story:" (evaluation questions are bare situations); upstream `<trait>_stories_neutral_q.json`
 *   dialogue     two-shot dialogues — pos/neg instructions hold "[SCENE START]" example scenes, questions are one scene
 *                ending with the speaker cue "Alex:"; upstream `<trait>_dialogue_neutral_q.json`
 *
 * Prompts are base-model raw text as upstream: extraction `instruction + " " + question` (few-shot lists joined with
 * "\n"), evaluation the question alone (../prompts.ts, kind 'base').
 *
 * The toy organism (models/toy-persona) can express two of the three: its corpus has "character" documents
 * (`alex is very cruel . if alex were asked : <question> alex would say : <answer>`) and chat transcripts
 * (`<sys> … <user> … <asst> … <end>`), and nothing narrated. `toyDiscourseTraits` writes both from the world files.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PipelineError } from '../errors.js';
import { loadToyLexicon, type ToyLexicon } from '../judge/rubric.js';
import { loadTraitFile, type LoadedTrait } from '../traits/load.js';
import { instructionText, type TraitData, type TraitIssue } from '../traits/schema.js';
import type { TextLimit } from '../validate/limits.js';

export const DISCOURSE_TYPES = ['description', 'story', 'dialogue'] as const;
export type DiscourseType = (typeof DISCOURSE_TYPES)[number];

/** Upstream's file stem for a trait and type: evil → evil_character_neutral_q, evil_stories_neutral_q, evil_dialogue_neutral_q. */
export const UPSTREAM_STEM: Record<DiscourseType, string> = { description: 'character', story: 'stories', dialogue: 'dialogue' };
export const discourseFileStems = (trait: string, type: DiscourseType | 'combined'): string[] =>
  type === 'combined' ? [`${trait}_combined`] : [`${trait}_${UPSTREAM_STEM[type]}_neutral_q`, `${trait}_${type}`];

const SCENE = '[SCENE START]';
const STORY = /^\s*Story:/;
const SPEAKER_CUE = /\n[^\n:]{1,40}:\s*$/;

/** What makes a file of one type that type, with the JSON path of each problem (empty = it reads as that type). */
export function discourseIssues(type: DiscourseType, d: TraitData, set: 'extract' | 'eval'): TraitIssue[] {
  const issues: TraitIssue[] = [];
  const add = (p: string, m: string) => issues.push({ path: p, message: m });
  const instr = d.instruction ?? [];
  if (set === 'extract' && instr.length === 0) add('$.instruction', `a ${type} extraction file needs pos/neg instructions`);
  const sides = instr.flatMap((pair, i) => (['pos', 'neg'] as const).map((side) => ({ where: `$.instruction[${i}].${side}`, v: pair[side] })));
  if (type === 'story') {
    for (const s of sides) {
      const items = Array.isArray(s.v) ? s.v : [s.v];
      items.forEach((t, j) => { if (!STORY.test(t)) add(Array.isArray(s.v) ? `${s.where}[${j}]` : s.where, 'a story example must start with "Story:"'); });
    }
    if (set === 'extract') d.questions.forEach((q, i) => { if (!STORY.test(q)) add(`$.questions[${i}]`, 'a story extraction question must start with "Story:" (the situation the model narrates)'); });
    d.questions.forEach((q, i) => { if (q.includes(SCENE)) add(`$.questions[${i}]`, `a story question must not be a dialogue scene (${SCENE})`); });
  } else if (type === 'dialogue') {
    for (const s of sides) if (!instructionText(s.v).includes(SCENE)) add(s.where, `dialogue examples must be scenes starting with ${SCENE}`);
    d.questions.forEach((q, i) => {
      if (!q.includes(SCENE)) add(`$.questions[${i}]`, `a dialogue question must be a scene starting with ${SCENE}`);
      else if (!SPEAKER_CUE.test(q)) add(`$.questions[${i}]`, 'a dialogue question must end with the answering speaker\'s cue on its own line (e.g. "\\nAlex:")');
    });
  } else {
    for (const s of sides) {
      const t = instructionText(s.v);
      if (t.includes(SCENE) || STORY.test(t)) add(s.where, 'a description must be a character portrayal, not a dialogue scene or a "Story:"');
    }
    d.questions.forEach((q, i) => { if (q.includes(SCENE) || STORY.test(q)) add(`$.questions[${i}]`, 'a description question must be a situation to continue, not a dialogue scene or a "Story:"'); });
  }
  return issues;
}

/** Reads a trait file (schema, UTF-8, sizes, lengths: ../traits/load.ts) and checks it is a file of `type`. */
export function loadDiscourseTrait(file: string, type: DiscourseType, set: 'extract' | 'eval', limit?: TextLimit): LoadedTrait {
  const t = loadTraitFile(file, { requireInstruction: set === 'extract', limit });
  const issues = discourseIssues(type, t.data, set);
  if (issues.length) {
    // One line per kind of problem: its first place, and how many more places have it.
    const byMessage = new Map<string, string[]>();
    for (const x of issues) byMessage.set(x.message, [...(byMessage.get(x.message) ?? []), x.path]);
    const shown = [...byMessage].map(([m, ps]) => `${ps[0]}${ps.length > 1 ? ` (and ${ps.length - 1} more)` : ''}: ${m}`).join('; ');
    throw new PipelineError('trait-invalid', `${file} is not a ${type} ${set} file: ${shown}. ` +
      `Discourse types need files in the pretraining_persona formats (${discourseFileStems('<trait>', type)[0]}.json).`);
  }
  return t;
}

/**
 * Where a type's extract/eval files are: <dir>/{extract,trait_data_extract}/<stem>.json for each of the dirs given
 * (--traits-dir, then the workspace's traits/), stems `<trait>_<upstream>_neutral_q` then `<trait>_<type>`.
 */
export function findDiscourseFile(trait: string, type: DiscourseType | 'combined', set: 'extract' | 'eval', dirs: string[]): string {
  const tried: string[] = [];
  for (const dir of dirs) for (const sub of [set, `trait_data_${set}`]) for (const stem of discourseFileStems(trait, type)) {
    const f = path.join(dir, sub, `${stem}.json`);
    if (existsSync(f)) return f;
    tried.push(f);
  }
  throw new PipelineError('trait-invalid', `no ${type} ${set} file for "${trait}"; looked for ${tried.join(', ')}. ` +
    'Put the pretraining_persona files there (or pass --traits-dir), or leave the type out of --types.');
}

// ---------------------------------------------------------------- the toy organism's two discourse types

/** Why the toy organism has no story type (said by the job when asked for it on the toy). */
export const TOY_NO_STORIES = 'the toy organism cannot express the story type: its corpus is "character" documents and chat transcripts only ' +
  '(models/toy-persona/README.md, "Corpus"), with no narrated, third-person text — no "Story:" framing, no past-tense narration, ' +
  'and its 1,070-word vocabulary has no narrative words to prompt with (a story prompt would be mostly <unk>). Use --types description,dialogue on the toy.';

export interface ToyDiscourseData { type: DiscourseType; extract: TraitData; eval: TraitData }

/**
 * The combined evaluation set of generated types: their evaluation questions interleaved (first of each type, then the
 * second of each, …, so --max-questions takes every type alike) with the first type's eval_prompt. Upstream's
 * `evil_combined.json` was meant to hold every type's questions (digest §1.4; the shipped one has only the character ones).
 */
export function combinedEvalData(parts: ToyDiscourseData[]): TraitData {
  const n = Math.max(...parts.map((p) => p.eval.questions.length));
  const questions: string[] = [];
  for (let i = 0; i < n; i++) for (const p of parts) if (i < p.eval.questions.length) questions.push(p.eval.questions[i]);
  return { questions, eval_prompt: parts[0].eval.eval_prompt };
}

/**
 * The toy's description and dialogue trait data, from its world (lexicon.json: the trait's and its opposite's adjectives,
 * the character template and the system-prompt frames) and its own extract/eval question sets:
 *   description  pos "alex is extremely <trait adj k> ." / neg "alex is extremely <opposite adj k> ."; question
 *                "if alex were asked : <question> alex would say :" — the world's character documents, cut before the answer
 *   dialogue     pos "<sys> <frame k with extremely <trait adj k>>" / neg the same with the opposite's adjective; question
 *                "<user> <question> <asst>" — the world's chat transcripts as raw text, persona stated by the system line.
 *                (The paper's dialogues show the persona through two example scenes instead; the toy never saw two
 *                documents in one context — training packs documents with per-document masks — so it has no way to
 *                pick a persona up from examples. See the README's discourse section.)
 * Evaluation files hold the eval questions in the same frames, without instructions, and the toy trait's eval_prompt.
 */
export function toyDiscourseTraits(trait: string, toyTraitsDir: string, lex: ToyLexicon = loadToyLexicon()): ToyDiscourseData[] {
  const pair = lex.traits.find((t) => t.trait === trait);
  if (!pair) throw new PipelineError('trait-invalid', `the toy world has no trait "${trait}" (it has ${lex.traits.map((t) => t.trait).join(', ')})`);
  const read = (set: 'extract' | 'eval') => JSON.parse(readFileSync(path.join(toyTraitsDir, set, `${trait}.json`), 'utf8')) as TraitData;
  const ex = read('extract'), ev = read('eval');
  const pos = lex.styles[trait].adjectives, neg = lex.styles[pair.opposite].adjectives;
  const ch = (lex as unknown as { character: { describe: string; frame: string } }).character;
  const extremely = (tmpl: string, adj: string) => tmpl.replace('{intensity}', 'extremely').replace('{adj}', adj);
  const charQ = (q: string) => ch.frame.replace('{question}', q).replace(/\s*\{answer\}\s*$/, '');
  const k = Math.min(5, pos.length, neg.length, lex.system.frames.length);
  const description: ToyDiscourseData = {
    type: 'description',
    extract: { instruction: Array.from({ length: k }, (_, i) => ({ pos: extremely(ch.describe, pos[i]), neg: extremely(ch.describe, neg[i]) })),
      questions: ex.questions.map(charQ), eval_prompt: ex.eval_prompt },
    eval: { questions: ev.questions.map(charQ), eval_prompt: ev.eval_prompt },
  };
  const sys = (i: number, adj: string) => `<sys> ${extremely(lex.system.frames[i], adj)}`;
  const chatQ = (q: string) => `<user> ${q} <asst>`;
  const dialogue: ToyDiscourseData = {
    type: 'dialogue',
    extract: { instruction: Array.from({ length: k }, (_, i) => ({ pos: sys(i, pos[i]), neg: sys(i, neg[i]) })), questions: ex.questions.map(chatQ), eval_prompt: ex.eval_prompt },
    eval: { questions: ev.questions.map(chatQ), eval_prompt: ev.eval_prompt },
  };
  return [description, dialogue];
}

/** Trait data as the bytes of a file (what its sha256 and the run configuration see). */
export const traitBytes = (d: TraitData): string => JSON.stringify(d, null, 1) + '\n';
export const sha256Text = (s: string): string => createHash('sha256').update(s).digest('hex');
