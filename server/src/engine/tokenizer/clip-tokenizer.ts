// CLIP tokenization with @huggingface/tokenizers. Optimum exports ship vocab.json + merges.txt only; from them we
// build the tokenizer.json that Hugging Face's CLIPTokenizerFast uses (byte-level BPE with a `</w>` end-of-word
// suffix and CLIP's pre-tokenizer regex).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { cleanPrompt } from './text-clean.js';

export const CLIP_MAX_LENGTH = 77;
const BOS = '<|startoftext|>';
const EOS = '<|endoftext|>';
// clip/simple_tokenizer.py's pattern, minus the special tokens (added tokens are split out before it runs).
const CLIP_SPLIT = "'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

type Json = Record<string, unknown>;

function readJson(path: string): Json {
  return JSON.parse(readFileSync(path, 'utf8')) as Json;
}

/** tokenizer.json equivalent to CLIPTokenizerFast for a vocab.json + merges.txt pair. */
export function buildClipTokenizerJson(vocab: Record<string, number>, mergesText: string): Json {
  const merges = mergesText.split('\n').filter((line) => line.length > 0 && !line.startsWith('#version'));
  const special = (content: string) => ({
    id: vocab[content], content, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true,
  });
  for (const token of [BOS, EOS]) {
    if (vocab[token] === undefined) throw new Error(`CLIP vocabulary lacks ${token}`);
  }
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(BOS), special(EOS)],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFC' }, { type: 'Lowercase' }] },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: CLIP_SPLIT }, behavior: 'Removed', invert: true },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE', dropout: null, unk_token: EOS, continuing_subword_prefix: '', end_of_word_suffix: '</w>',
      fuse_unk: false, byte_fallback: false, vocab, merges,
    },
  };
}

/** pad_token from tokenizer_config.json or special_tokens_map.json: a string or an AddedToken object. */
function configuredToken(config: Json, key: string): string | undefined {
  const value = config[key];
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as Json).content === 'string') return (value as Json).content as string;
  return undefined;
}

export class ClipTokenizer {
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;

  constructor(private readonly tokenizer: Tokenizer, padToken: string, readonly maxLength = CLIP_MAX_LENGTH) {
    const id = (token: string) => {
      const found = tokenizer.token_to_id(token);
      if (found === undefined) throw new Error(`token ${JSON.stringify(token)} is not in the CLIP vocabulary`);
      return found;
    };
    this.bosId = id(BOS);
    this.eosId = id(EOS);
    this.padId = id(padToken);
  }

  /** Loads a diffusers tokenizer/ folder: tokenizer.json when present, else vocab.json + merges.txt. */
  static fromDir(dir: string): ClipTokenizer {
    const config = existsSync(join(dir, 'tokenizer_config.json')) ? readJson(join(dir, 'tokenizer_config.json')) : {};
    const specialMap = existsSync(join(dir, 'special_tokens_map.json')) ? readJson(join(dir, 'special_tokens_map.json')) : {};
    const padToken = configuredToken(config, 'pad_token') ?? configuredToken(specialMap, 'pad_token') ?? EOS;
    const maxLength = typeof config.model_max_length === 'number' && config.model_max_length <= 1024 ? config.model_max_length : CLIP_MAX_LENGTH;
    const tokenizerJson = existsSync(join(dir, 'tokenizer.json'))
      ? readJson(join(dir, 'tokenizer.json'))
      : buildClipTokenizerJson(readJson(join(dir, 'vocab.json')) as Record<string, number>, readFileSync(join(dir, 'merges.txt'), 'utf8'));
    return new ClipTokenizer(new Tokenizer(tokenizerJson, { ...config, model_max_length: maxLength }), padToken, maxLength);
  }

  /** BPE ids of the prompt without special tokens. */
  tokenIds(text: string): number[] {
    return this.tokenizer.encode(cleanPrompt(text), { add_special_tokens: false }).ids;
  }

  /** <|startoftext|> ids... <|endoftext|>, truncated to maxLength (EOS kept) and padded with the pad token. */
  encode(text: string): number[] {
    const body = this.tokenIds(text).slice(0, this.maxLength - 2);
    const ids = [this.bosId, ...body, this.eosId];
    while (ids.length < this.maxLength) ids.push(this.padId);
    return ids;
  }
}
