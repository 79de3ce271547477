// ClipTokenizer gives the input_ids diffusers feeds its text encoders (transformers' slow CLIPTokenizer, no ftfy):
// every row of parity/token_ids.json and clip_tokenizer_edge.json, plus openai/CLIP's ids where the two agree.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { TokenTrie } from '../../src/engine/tokenizer/added-tokens.js';
import { basicTokenize } from '../../src/engine/tokenizer/basic-tokenizer.js';
import { ClipTokenizer } from '../../src/engine/tokenizer/clip-tokenizer.js';

const FIXTURES = join(import.meta.dirname, '../fixtures');
const DIFFUSERS = join(FIXTURES, 'parity/diffusers');
const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;

const PARITY = readJson<{ rows: { model: string; tokenizer: string; text: string; ids: number[] }[] }>(join(FIXTURES, 'parity/token_ids.json'));
const EDGE = readJson<{
  flags_base: string;
  flags_added_tokens: Record<string, unknown>;
  rows: { tokenizer: string; text: string; ids: number[] }[];
  trie: { words: string[]; text: string; split: string[] }[];
}>(join(FIXTURES, 'clip_tokenizer_edge.json'));
const CLIP = readJson<{ text: string; ids: number[]; ids_without_ftfy?: number[] }[]>(join(FIXTURES, 'clip_tokens.json'));

const tempDirs: string[] = [];
afterAll(() => tempDirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** A tokenizer folder made of the vocabulary of `base` and the given tokenizer_config.json (no special_tokens_map). */
function folderWith(base: string, config: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'hg-tok-'));
  tempDirs.push(dir);
  for (const name of ['vocab.json', 'merges.txt']) copyFileSync(join(base, name), join(dir, name));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(config));
  return dir;
}

/** clip_tokenizer_edge.json's "flags" folder: tokenizer_2 plus added tokens with lstrip / rstrip / single_word. */
function flagsFolder(): string {
  const base = join(DIFFUSERS, EDGE.flags_base);
  const config = readJson<{ added_tokens_decoder: Record<string, unknown> }>(join(base, 'tokenizer_config.json'));
  const dir = folderWith(base, { ...config, added_tokens_decoder: { ...config.added_tokens_decoder, ...EDGE.flags_added_tokens } });
  copyFileSync(join(base, 'special_tokens_map.json'), join(dir, 'special_tokens_map.json'));
  return dir;
}

const cache = new Map<string, ClipTokenizer>();
function tokenizer(folder: string): ClipTokenizer {
  let found = cache.get(folder);
  if (!found) cache.set(folder, (found = ClipTokenizer.fromDir(folder === 'flags' ? flagsFolder() : join(DIFFUSERS, folder))));
  return found;
}
const sd15 = () => tokenizer('sd15-tiny/tokenizer');
const sdxl2 = () => tokenizer('sdxl-tiny/tokenizer_2');
const padded = (ids: number[], pad: number) => [...ids, ...Array<number>(77 - ids.length).fill(pad)];

describe('ClipTokenizer against diffusers (parity/token_ids.json)', () => {
  it.each(PARITY.rows.map((row) => [`${row.model}/${row.tokenizer}`, row.text, row.ids] as const))('%s %j', (folder, text, ids) => {
    expect(tokenizer(folder).encode(text)).toEqual(ids);
  });
});

describe('ClipTokenizer against transformers on edge cases (clip_tokenizer_edge.json)', () => {
  it.each(['sd15-tiny/tokenizer', 'sdxl-tiny/tokenizer_2', 'flags'])('every row of %s', (folder) => {
    const rows = EDGE.rows.filter((row) => row.tokenizer === folder);
    expect(rows.length).toBeGreaterThan(300);
    const tok = tokenizer(folder);
    const wrong = rows.filter((row) => JSON.stringify(tok.encode(row.text)) !== JSON.stringify(padded(row.ids, tok.padId)));
    expect(wrong.map((row) => row.text)).toEqual([]);
  });

  it("reproduces transformers' Trie.split on overlapping words", () => {
    const wrong = EDGE.trie.filter((c) => JSON.stringify(new TokenTrie(c.words).split(c.text)) !== JSON.stringify(c.split));
    expect(EDGE.trie.length).toBe(400);
    expect(wrong).toEqual([]);
  });
});

describe('openai/CLIP reference ids (clip_tokens.json)', () => {
  // diffusers' tokenizer (transformers without ftfy) differs from openai/CLIP's (with ftfy and html.unescape) here;
  // diffusers wins, and these texts are rows of parity/token_ids.json too.
  const DIFFERS: Record<string, string> = {
    '東京の夜景': 'BasicTokenizer puts spaces around CJK ideographs, so each is its own word',
    '👩\u200d👩\u200d👧\u200d👦 family': 'BasicTokenizer drops format characters such as the zero-width joiner',
    '&lt;b&gt;bold&lt;/b&gt; &quot;quoted&quot; &#39;apos&#39;': 'no html.unescape: entities stay as written',
    '“smart quotes” and ‘single’ — em dash – en dash …': "no ftfy: curly quotes stay curly (CLIP's ids_without_ftfy)",
  };

  it.each(CLIP.filter((row) => !(row.text in DIFFERS)).map((row) => [row.text, row.ids] as const))('agrees for %j', (text, ids) => {
    expect(sd15().encode(text)).toEqual(padded(ids, 49407));
  });

  it.each(Object.entries(DIFFERS))('differs for %j: %s', (text) => {
    const row = CLIP.find((entry) => entry.text === text)!;
    const ids = sd15().encode(text);
    expect(ids).not.toEqual(padded(row.ids, 49407));
    if (row.ids_without_ftfy) expect(ids).toEqual(padded(row.ids_without_ftfy, 49407));
    expect(PARITY.rows.some((parity) => parity.text === text)).toBe(true);
  });
});

describe('ClipTokenizer behaviour', () => {
  it('wraps in BOS/EOS and pads to 77 with the pad token of the folder', () => {
    expect(sd15().encode('a photo of a cat')).toEqual(padded([49406, 320, 1125, 539, 320, 2368, 49407], 49407));
    expect(sdxl2().encode('a photo of a cat')).toEqual(padded([49406, 320, 1125, 539, 320, 2368, 49407], 0));
    expect(sdxl2().padId).toBe(0);
    expect(sd15().encode('')).toEqual(padded([49406, 49407], 49407));
  });

  it('splits the added pad token "!" out of the prompt on tokenizer_2 only', () => {
    expect(sd15().tokenIds('wow!')).toEqual([2781, 256]); // "wow</w>" "!</w>"
    expect(sdxl2().tokenIds('wow!')).toEqual([2781, 0]); // "!" is the added pad token, id 0
    expect(sdxl2().pieces('a!!b').map((piece) => ('added' in piece ? piece.added.id : piece.text))).toEqual(['a', 0, 0, 'b']);
  });

  it('treats a pad token given only as a string (no added_tokens_decoder) as an added token too', () => {
    const dir = folderWith(join(DIFFUSERS, 'sd15-tiny/tokenizer'), { model_max_length: 77, pad_token: '!' });
    expect(ClipTokenizer.fromDir(dir).encode('a!b <|endoftext|>').slice(0, 8)).toEqual([49406, 320, 0, 321, 49407, 49407, 0, 0]);
  });

  it('maps special-token text that only appears after lower-casing to the special id, as CLIP\'s BPE cache does', () => {
    expect(sd15().tokenIds('<|EndOfText|>')).toEqual([49407]);
    expect(sd15().tokenIds('<|endoftext|>')).toEqual([49407]);
  });

  it('truncates to 77 and keeps the end-of-text token', () => {
    const long = Array.from({ length: 120 }, (_, i) => `word${i}`).join(' ');
    const body = sd15().tokenIds(long);
    expect(body.length).toBeGreaterThan(75);
    const ids = sdxl2().encode(long);
    expect(ids).toHaveLength(77);
    expect(ids[0]).toBe(49406);
    expect(ids[76]).toBe(49407);
    expect(ids.slice(1, 76)).toEqual(body.slice(0, 75));
  });

  it('normalises as BasicTokenizer(strip_accents=False, do_split_on_punc=False)', () => {
    expect(basicTokenize('  A\tPhoto \n of   a CAT ')).toEqual(['a', 'photo', 'of', 'a', 'cat']);
    expect(basicTokenize('東京の夜景')).toEqual(['東', '京', 'の', '夜', '景']);
    expect(basicTokenize('a\u200db\u0000c\ufffdd e\u2028f')).toEqual(['abcd', 'e', 'f']);
    expect(basicTokenize('cafe\u0301 ÉTÉ')).toEqual(['café', 'été']);
    expect(basicTokenize('&amp; “x”')).toEqual(['&amp;', '“x”']);
  });
});
