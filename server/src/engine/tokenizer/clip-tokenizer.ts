// Prompt -> input_ids exactly as diffusers gets them from transformers' slow CLIPTokenizer (transformers 4.42,
// tokenization_clip.py, without ftfy: the `pip install diffusers transformers` setup) with padding="max_length",
// truncation=True. Added tokens are cut out of the raw text first (so a pad token "!" becomes its own id), each other
// piece goes through BasicTokenizer and CLIP's regex; @huggingface/tokenizers does the byte-level BPE of each word.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { parsePythonJson } from '../../json/python-json.js';
import { type AddedToken, type Piece, TokenTrie, splitAddedTokens } from './added-tokens.js';
import { basicTokenize } from './basic-tokenizer.js';

export const CLIP_MAX_LENGTH = 77;
const BOS = '<|startoftext|>';
const EOS = '<|endoftext|>';
/** CLIPTokenizer reads merges.txt lines 1..48894 (after the #version header): 49152 - 256 - 2 merges. */
const MAX_MERGES = 49152 - 256 - 2;
/** A literal under Python `regex`'s IGNORECASE (simple case folding): ASCII letters either case, "s" also "ſ". */
function ignoreCase(literal: string): string {
  return Array.from(literal, (char) => {
    if (char === 's') return '[sSſ]';
    if (/[a-z]/.test(char)) return `[${char}${char.toUpperCase()}]`;
    return char.replace(/[|]/g, '\\|');
  }).join('');
}
/**
 * CLIPTokenizer.pat as Python's `regex` runs it with re.IGNORECASE, spelled out so that JavaScript matches the same
 * words: the literals fold case as above, and U+0345 (which folds to the letter "ι") is left out of the punctuation run
 * (so it matches nothing and is dropped, as there; JavaScript's /iu would take it as a letter instead). The two
 * special-token alternatives matter for text that only becomes "<|endoftext|>" after normalisation ("<|EndOfText|>"):
 * CLIP's BPE cache then maps that word to the token itself.
 */
const CLIP_PATTERN = new RegExp(
  [
    ...['<|startoftext|>', '<|endoftext|>', "'s", "'t", "'re", "'ve", "'m", "'ll", "'d"].map(ignoreCase),
    '[\\p{L}]+',
    '[\\p{N}]',
    '[^\\s\\p{L}\\p{N}\\u0345]+',
  ].join('|'),
  'gu',
);
const BPE_CACHE_SPECIALS = new Set([BOS, EOS]);

type Json = Record<string, unknown>;

function readJson(path: string): Json {
  return parsePythonJson(readFileSync(path, 'utf8')) as Json;
}

function readOptionalJson(path: string): Json {
  return existsSync(path) ? readJson(path) : {};
}

/** A special-token value of tokenizer_config.json / special_tokens_map.json: a string or an AddedToken object. */
function tokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as Json).content === 'string') return (value as Json).content as string;
  return undefined;
}

function flags(value: unknown): Omit<AddedToken, 'content' | 'id'> {
  const object = value && typeof value === 'object' ? (value as Json) : {};
  return { lstrip: object.lstrip === true, rstrip: object.rstrip === true, singleWord: object.single_word === true };
}

/** The byte-level BPE model only: no normaliser, no pre-tokenizer regex, no added tokens (all handled above it). */
function bpeTokenizer(vocab: Record<string, number>, merges: string[][], unkToken: string): Tokenizer {
  return new Tokenizer(
    {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [],
      normalizer: null,
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      post_processor: null,
      decoder: null,
      model: {
        type: 'BPE', dropout: null, unk_token: unkToken, continuing_subword_prefix: '', end_of_word_suffix: '</w>',
        fuse_unk: false, byte_fallback: false, vocab, merges,
      },
    },
    {},
  );
}

export interface ClipTokenizerFiles {
  vocab: Record<string, number>;
  /** Merge rules in rank order, each a pair of symbols. */
  merges: string[][];
  /** tokenizer_config.json merged with special_tokens_map.json as from_pretrained merges them. */
  config: Json;
}

export class ClipTokenizer {
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  readonly unkId: number;
  private readonly bpe: Tokenizer;
  private readonly vocab: Map<string, number>;
  private readonly added = new Map<string, AddedToken>();
  private readonly trie: TokenTrie;

  constructor(files: ClipTokenizerFiles, readonly maxLength = CLIP_MAX_LENGTH) {
    const { vocab, config } = files;
    this.vocab = new Map(Object.entries(vocab));
    const unk = tokenContent(config.unk_token) ?? EOS;
    this.bpe = bpeTokenizer(vocab, files.merges.slice(0, MAX_MERGES), unk);
    // added_tokens_decoder first; then every special token not in it, with its own flags (a plain string: none).
    const decoder = (config.added_tokens_decoder ?? {}) as Record<string, Json>;
    for (const [id, entry] of Object.entries(decoder)) {
      const content = tokenContent(entry);
      if (content !== undefined) this.added.set(content, { content, id: Number(id), ...flags(entry) });
    }
    const extra = Array.isArray(config.additional_special_tokens) ? (config.additional_special_tokens as unknown[]) : [];
    const specials = [config.bos_token ?? BOS, config.eos_token ?? EOS, config.unk_token ?? EOS, config.pad_token ?? EOS, ...extra];
    for (const value of specials) {
      const content = tokenContent(value);
      if (content === undefined || content.length === 0 || this.added.has(content)) continue;
      const id = this.vocab.get(content);
      if (id === undefined) throw new Error(`special token ${JSON.stringify(content)} is not in the CLIP vocabulary`);
      this.added.set(content, { content, id, ...flags(value) });
    }
    this.trie = new TokenTrie(this.added.keys());
    this.bosId = this.idOf(tokenContent(config.bos_token) ?? BOS);
    this.eosId = this.idOf(tokenContent(config.eos_token) ?? EOS);
    this.padId = this.idOf(tokenContent(config.pad_token) ?? EOS);
    this.unkId = this.idOf(unk);
  }

  /** Loads a diffusers tokenizer/ folder: vocab.json + merges.txt (what the slow tokenizer reads), else tokenizer.json. */
  static fromDir(dir: string): ClipTokenizer {
    const config: Json = { ...readOptionalJson(join(dir, 'tokenizer_config.json')) };
    // from_pretrained: special_tokens_map.json's entries replace the config's.
    for (const [key, value] of Object.entries(readOptionalJson(join(dir, 'special_tokens_map.json')))) {
      if (key === 'additional_special_tokens' && Array.isArray(value)) {
        const merged = Array.isArray(config[key]) ? [...(config[key] as unknown[])] : [];
        for (const token of value) if (!merged.some((known) => tokenContent(known) === tokenContent(token))) merged.push(token);
        config[key] = merged;
      } else config[key] = value;
    }
    let vocab: Record<string, number>;
    let merges: string[][];
    if (existsSync(join(dir, 'vocab.json')) && existsSync(join(dir, 'merges.txt'))) {
      vocab = readJson(join(dir, 'vocab.json')) as Record<string, number>;
      // read().strip().split("\n")[1:], each line split on whitespace.
      merges = readFileSync(join(dir, 'merges.txt'), 'utf8').trim().split('\n').slice(1).map((line) => line.trim().split(/\s+/));
    } else {
      const model = readJson(join(dir, 'tokenizer.json')).model as Json;
      vocab = model.vocab as Record<string, number>;
      merges = (model.merges as (string | string[])[]).map((merge) => (typeof merge === 'string' ? merge.split(' ') : merge));
    }
    const declared = config.model_max_length;
    const maxLength = typeof declared === 'number' && declared <= 1024 ? declared : CLIP_MAX_LENGTH;
    return new ClipTokenizer({ vocab, merges, config }, maxLength);
  }

  private idOf(token: string): number {
    const id = this.added.get(token)?.id ?? this.vocab.get(token);
    if (id === undefined) throw new Error(`token ${JSON.stringify(token)} is not in the CLIP vocabulary`);
    return id;
  }

  /** CLIPTokenizer._tokenize for a piece without added tokens: BasicTokenizer, CLIP's regex, byte-level BPE. */
  private pieceIds(text: string): number[] {
    const ids: number[] = [];
    for (const [word] of basicTokenize(text).join(' ').matchAll(CLIP_PATTERN)) {
      const tokens = BPE_CACHE_SPECIALS.has(word) ? [word] : this.bpe.encode(word, { add_special_tokens: false }).tokens;
      // convert_tokens_to_ids: added tokens first, then the vocabulary, else unk.
      for (const token of tokens) ids.push(this.added.get(token)?.id ?? this.vocab.get(token) ?? this.unkId);
    }
    return ids;
  }

  /** The pieces of a prompt after the added-token split (exposed for tests). */
  pieces(text: string): Piece[] {
    return splitAddedTokens(text, this.trie, this.added);
  }

  /** Token ids of the prompt without BOS / EOS / padding: `tokenizer(text, add_special_tokens=False).input_ids`. */
  tokenIds(text: string): number[] {
    return this.pieces(text).flatMap((piece) => ('added' in piece ? [piece.added.id] : this.pieceIds(piece.text)));
  }

  /** BOS, the first maxLength - 2 ids, EOS, then the pad id up to maxLength (padding="max_length", truncation=True). */
  encode(text: string): number[] {
    const body = this.tokenIds(text).slice(0, Math.max(0, this.maxLength - 2));
    const ids = [this.bosId, ...body, this.eosId];
    while (ids.length < this.maxLength) ids.push(this.padId);
    return ids;
  }
}
