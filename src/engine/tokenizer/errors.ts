/** Tokenizer failures, in a module of their own so that the client can rebuild them without loading the tokenizer libraries. */
import { ReasonError } from '../errors.js';

export type TokenizerErrorReason = 'unreadable' | 'bad-template' | 'no-chat-template';

export class TokenizerError extends ReasonError<TokenizerErrorReason> {
  override readonly name = 'TokenizerError';
}
