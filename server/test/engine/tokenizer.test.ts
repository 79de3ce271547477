import { readFileSync, mkdtempSync, writeFileSync, copyFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { ClipTokenizer } from '../../src/engine/tokenizer/clip-tokenizer.js';
import { cleanPrompt } from '../../src/engine/tokenizer/text-clean.js';

const ASSETS = join(import.meta.dirname, '../../assets/clip-tokenizer');
const FIXTURE = JSON.parse(readFileSync(join(import.meta.dirname, '../fixtures/clip_tokens.json'), 'utf8')) as {
  text: string;
  ids: number[];
  ids_without_ftfy?: number[];
}[];

/** A diffusers tokenizer/ folder as Optimum exports it (no tokenizer.json), with the given pad token. */
function tokenizerDir(padToken: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'hg-tok-'));
  copyFileSync(join(ASSETS, 'vocab.json'), join(dir, 'vocab.json'));
  copyFileSync(join(ASSETS, 'merges.txt'), join(dir, 'merges.txt'));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ model_max_length: 77, do_lower_case: true, pad_token: padToken }));
  writeFileSync(join(dir, 'special_tokens_map.json'), JSON.stringify({ pad_token: { content: padToken } }));
  return dir;
}

const sd15Dir = tokenizerDir('<|endoftext|>');
const sdxlDir = tokenizerDir('!');
afterAll(() => [sd15Dir, sdxlDir].forEach((dir) => rmSync(dir, { recursive: true, force: true })));
const sd15 = ClipTokenizer.fromDir(sd15Dir);
const sdxl2 = ClipTokenizer.fromDir(sdxlDir);

describe('CLIP tokenizer', () => {
  // Reference: openai/CLIP simple_tokenizer.py with ftfy. Our clean-up implements ftfy's uncurl_quotes, so the
  // ftfy ids are matched (ids_without_ftfy is not needed).
  it.each(FIXTURE.map((entry) => [entry.text, entry.ids] as const))('matches openai/CLIP for %j', (text, ids) => {
    const encoded = sd15.encode(text);
    expect(encoded.slice(0, ids.length)).toEqual(ids);
    expect(encoded.slice(ids.length).every((id) => id === 49407)).toBe(true);
  });

  it('wraps in BOS/EOS and pads to 77 with the pad token of the folder', () => {
    expect(sd15.encode('a photo of a cat')).toEqual([49406, 320, 1125, 539, 320, 2368, 49407, ...Array(70).fill(49407)]);
    expect(sdxl2.encode('a photo of a cat')).toEqual([49406, 320, 1125, 539, 320, 2368, 49407, ...Array(70).fill(0)]);
    expect(sdxl2.padId).toBe(0);
    expect(sd15.encode('')).toEqual([49406, 49407, ...Array(75).fill(49407)]);
  });

  it('truncates to 77 and keeps the end-of-text token', () => {
    const long = Array.from({ length: 120 }, (_, i) => `word${i}`).join(' ');
    const body = sd15.tokenIds(long);
    expect(body.length).toBeGreaterThan(75);
    const ids = sdxl2.encode(long);
    expect(ids).toHaveLength(77);
    expect(ids[0]).toBe(49406);
    expect(ids[76]).toBe(49407);
    expect(ids.slice(1, 76)).toEqual(body.slice(0, 75));
  });

  it('is case-insensitive and collapses whitespace', () => {
    expect(sd15.encode('  A\tPhoto \n of   a CAT ')).toEqual(sd15.encode('a photo of a cat'));
  });

  it('splits punctuation and digits like CLIP', () => {
    // "4k" -> "4" + "k</w>": CLIP's \p{N} class takes one digit at a time.
    expect(sd15.tokenIds('4k')).toEqual([275, 330]);
    expect(sd15.tokenIds('hello, world!')).toEqual(sd15.tokenIds('hello , world !'));
  });

  it('cleans prompts as CLIP basic_clean does', () => {
    expect(cleanPrompt('&amp;lt;b&amp;gt; &#x41;&#66;')).toBe('<b> ab');
    expect(cleanPrompt('“Quoted” ‘x’')).toBe('"quoted" \'x\'');
    expect(cleanPrompt('cafe\u0301')).toBe('café');
  });
});
