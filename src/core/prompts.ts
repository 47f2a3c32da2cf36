/**
 * Prompt assembly exactly as upstream (digest §2.1), producing the worker's PromptInput.
 *
 * Chat (instruct) models — the worker applies the model's chat template (add_generation_prompt):
 *   extraction: [system "You are a/an {name} assistant. {instruction}", user question]
 *               name = the trait for pos, "helpful" for neg; a/an by whether the name starts with a vowel.
 *   evaluation: [user question] only (the template's default system prompt, if any, applies).
 * Base models — raw text, no template, no assistant framing:
 *   extraction: instruction + " " + question (few-shot lists joined with "\n")
 *   evaluation: question alone.
 * The judge never sees any of this framing: it gets the raw question and the answer (§3.1).
 */
import type { PromptInput } from '../engine/protocol.js';
import { instructionText, type InstructionText } from './traits/schema.js';

export type ModelKind = 'chat' | 'base';
export type Polarity = 'pos' | 'neg';

export function aOrAn(word: string): 'a' | 'an' {
  return 'aeiou'.includes(word.charAt(0).toLowerCase()) ? 'an' : 'a';
}

export function assistantName(trait: string, polarity: Polarity, negName = 'helpful'): string {
  return polarity === 'pos' ? trait : negName;
}

export function systemPrompt(name: string, instruction: string): string {
  return `You are ${aOrAn(name)} ${name} assistant. ${instruction}`;
}

/** A prompt carrying an instruction (extraction pos/neg, or the prompting baseline). */
export function instructedPrompt(kind: ModelKind, name: string, instruction: InstructionText, question: string): PromptInput {
  const text = instructionText(instruction);
  if (kind === 'base') return { text: `${text} ${question}` };
  return { messages: [{ role: 'system', content: systemPrompt(name, text) }, { role: 'user', content: question }] };
}

/** An evaluation prompt: the question alone. */
export function evalPrompt(kind: ModelKind, question: string): PromptInput {
  return kind === 'base' ? { text: question } : { messages: [{ role: 'user', content: question }] };
}
