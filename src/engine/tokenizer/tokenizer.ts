/**
 * A model's tokenizer and chat template, read from its checkpoint folder:
 *   tokenizer.json (+ tokenizer_config.json) → @huggingface/tokenizers,
 *   chat_template.jinja, else tokenizer_config.json `chat_template` → @huggingface/jinja.
 * A model without a chat template is a base model: prompts are raw text.
 *
 * Special tokens (shared by generation, capture and projection so extraction sees what generation saw):
 *   { text }     → encode(text, add_special_tokens=true): BOS only if the tokenizer's post-processor adds one;
 *   { messages } → render the template (add_generation_prompt=true), encode with add_special_tokens=false
 *                  (the template writes its own BOS, e.g. Llama-3's <|begin_of_text|>);
 *   { ids }      → used as-is.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { Template } from '@huggingface/jinja';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { TokenizerError, type TokenizerErrorReason } from './errors.js';
import type { ChatMessage, PromptInput } from '../protocol.js';

type TokenLike = string | { content?: string } | null | undefined;
const tokenText = (t: TokenLike): string => (typeof t === 'string' ? t : t?.content ?? '');

export { TokenizerError, type TokenizerErrorReason };

export interface RenderedPrompt {
  /** The text the ids came from ('' for `{ ids }` prompts on tokenizer-less models). */
  text: string;
  ids: number[];
  /** Policy used for the ids, reused when a response is appended to `text` (capture). */
  addSpecialTokens: boolean;
}

export class ModelTokenizer {
  private readonly template: Template | null;

  private constructor(
    private readonly tok: Tokenizer,
    private readonly config: Record<string, unknown>,
    templateSource: string | null,
    private readonly templateKwargs: Record<string, unknown>,
  ) {
    this.template = templateSource ? new Template(templateSource) : null;
  }

  /** Loads the tokenizer of a checkpoint folder; null when the folder has no tokenizer.json. */
  static load(dir: string, templateKwargs: Record<string, unknown> = {}): ModelTokenizer | null {
    const tjPath = path.join(dir, 'tokenizer.json');
    if (!existsSync(tjPath)) return null;
    const readJson = (p: string): Record<string, unknown> => {
      try {
        return JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;
      } catch (e) {
        throw new TokenizerError('unreadable', `cannot read ${p}: ${(e as Error).message}. Re-download the checkpoint's tokenizer files.`);
      }
    };
    const tj = readJson(tjPath);
    const cfgPath = path.join(dir, 'tokenizer_config.json');
    const config = existsSync(cfgPath) ? readJson(cfgPath) : {};
    const jinjaPath = path.join(dir, 'chat_template.jinja');
    const source = existsSync(jinjaPath) ? readFileSync(jinjaPath, 'utf8') : pickTemplate(config.chat_template);
    const tok = new Tokenizer(tj, config);
    try {
      return new ModelTokenizer(tok, config, source, templateKwargs);
    } catch (e) {
      throw new TokenizerError('bad-template', `the chat template of ${dir} does not parse: ${(e as Error).message}`);
    }
  }

  get hasChatTemplate(): boolean { return this.template !== null; }

  encode(text: string, addSpecialTokens: boolean): number[] {
    return this.tok.encode(text, { add_special_tokens: addSpecialTokens }).ids;
  }

  decode(ids: readonly number[], skipSpecialTokens = true): string {
    return this.tok.decode(ids as number[], { skip_special_tokens: skipSpecialTokens });
  }

  idToToken(id: number): string { return this.tok.id_to_token(id) ?? `<${id}>`; }

  tokenToId(token: string): number | undefined { return this.tok.token_to_id(token); }

  /** EOS ids named by tokenizer_config.json (the model config adds its own). */
  eosTokenIds(): number[] {
    const id = this.tokenToId(tokenText(this.config.eos_token as TokenLike));
    return id === undefined ? [] : [id];
  }

  applyChatTemplate(messages: readonly ChatMessage[], addGenerationPrompt = true): string {
    if (!this.template) throw new TokenizerError('no-chat-template', 'this model has no chat template (a base model): send raw text prompts instead of messages');
    return this.template.render({
      ...this.templateKwargs,
      messages,
      add_generation_prompt: addGenerationPrompt,
      bos_token: tokenText(this.config.bos_token as TokenLike),
      eos_token: tokenText(this.config.eos_token as TokenLike),
      pad_token: tokenText(this.config.pad_token as TokenLike),
      unk_token: tokenText(this.config.unk_token as TokenLike),
    });
  }

  render(prompt: PromptInput): RenderedPrompt {
    if ('ids' in prompt) return { text: this.decode(prompt.ids, false), ids: [...prompt.ids], addSpecialTokens: false };
    if ('messages' in prompt) {
      const text = this.applyChatTemplate(prompt.messages, true);
      return { text, ids: this.encode(text, false), addSpecialTokens: false };
    }
    return { text: prompt.text, ids: this.encode(prompt.text, true), addSpecialTokens: true };
  }
}

/** tokenizer_config `chat_template` may be a string or a list of named templates ('default' wins). */
function pickTemplate(t: unknown): string | null {
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) {
    const named = t as { name?: string; template?: string }[];
    return (named.find((x) => x.name === 'default') ?? named[0])?.template ?? null;
  }
  return null;
}

/**
 * Incremental detokenization for streaming: decode the whole generated prefix each step and emit what
 * was added, holding back a trailing U+FFFD (an incomplete multi-byte character) until it completes.
 */
export class StreamDecoder {
  private emitted = '';
  constructor(private readonly decode: (ids: number[]) => string) {}
  /** Full decoded text so far (may end in U+FFFD). */
  text(ids: number[]): string { return this.decode(ids); }
  push(ids: number[]): { delta: string; full: string } {
    const full = this.decode(ids);
    const stable = full.endsWith('\uFFFD') ? full.replace(/\uFFFD+$/, '') : full;
    if (!stable.startsWith(this.emitted)) {
      // A merge changed earlier text (rare with byte-level BPE); resynchronise without re-emitting.
      this.emitted = stable;
      return { delta: '', full };
    }
    const delta = stable.slice(this.emitted.length);
    this.emitted = stable;
    return { delta, full };
  }
}
