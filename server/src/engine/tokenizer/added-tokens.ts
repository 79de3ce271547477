// How a slow transformers tokenizer cuts its added tokens out of the raw text before any normalisation: a port of
// Trie.split and the added-token part of PreTrainedTokenizer.tokenize (transformers 4.42, tokenization_utils.py),
// lstrip / rstrip / single_word flags included. Works on code points, as Python strings do.
import { pyLstrip, pyRstrip } from './basic-tokenizer.js';

/** An entry of added_tokens_decoder (or a special token of the config) with the flags the split honours. */
export interface AddedToken {
  content: string;
  id: number;
  lstrip: boolean;
  rstrip: boolean;
  singleWord: boolean;
}

interface TrieNode {
  end: boolean;
  children: Map<string, TrieNode>;
}

const newNode = (): TrieNode => ({ end: false, children: new Map() });

/** transformers' Trie: longest match first, with its look-ahead rules for tokens that overlap. */
export class TokenTrie {
  private readonly root = newNode();

  constructor(words: Iterable<string>) {
    for (const word of words) {
      if (word.length === 0) continue;
      let node = this.root;
      for (const char of word) {
        let child = node.children.get(char);
        if (!child) node.children.set(char, (child = newNode()));
        node = child;
      }
      node.end = true;
    }
  }

  /** The text cut along the boundaries of the words found (Trie.split, then cut_text). */
  split(text: string): string[] {
    const chars = Array.from(text);
    const n = chars.length;
    let states = new Map<number, TrieNode>();
    const offsets = [0];
    let skip = 0;
    for (let current = 0; current < n; current++) {
      if (skip && current < skip) continue;
      const currentChar = chars[current]!;
      const toRemove: number[] = [];
      let reset = false;
      for (const [stateStart, pointer] of states) {
        if (pointer.end) {
          // A word ends here: look for the longest match among the states started at or before this one.
          let start = stateStart;
          let end = current;
          for (const [lookstart, lookPointer] of states) {
            if (lookstart > start) break;
            let lookahead = lookstart < start ? current + 1 : current;
            end = lookahead;
            let node = lookPointer;
            let next = lookahead < n ? chars[lookahead] : undefined;
            if (node.end) {
              start = lookstart;
              end = lookahead;
              skip = lookahead;
            }
            while (next !== undefined && node.children.has(next)) {
              node = node.children.get(next)!;
              lookahead += 1;
              if (node.end) {
                start = lookstart;
                end = lookahead;
                skip = lookahead;
              }
              if (lookahead === n) break;
              next = chars[lookahead];
            }
          }
          offsets.push(start, end);
          reset = true;
          break;
        }
        const child = pointer.children.get(currentChar);
        if (child) states.set(stateStart, child);
        else toRemove.push(stateStart);
      }
      if (reset) states = new Map();
      else for (const start of toRemove) states.delete(start);
      const first = this.root.children.get(currentChar);
      if (current >= skip && first) states.set(current, first);
    }
    for (const [start, pointer] of states) {
      if (pointer.end) {
        offsets.push(start, n);
        break;
      }
    }
    offsets.push(n);
    const pieces: string[] = [];
    let start = 0;
    for (const end of offsets) {
      if (start >= end) continue;
      pieces.push(chars.slice(start, end).join(''));
      start = end;
    }
    return pieces;
  }
}

/** A piece of the prompt: an added token (by id) or text for the tokenizer proper. */
export type Piece = { added: AddedToken } | { text: string };

/** PreTrainedTokenizer.tokenize's added-token pass: split, apply lstrip/rstrip/single_word, drop empty pieces. */
export function splitAddedTokens(text: string, trie: TokenTrie, added: ReadonlyMap<string, AddedToken>): Piece[] {
  const pieces = trie.split(text);
  for (let i = 0; i < pieces.length; i++) {
    const token = pieces[i]!;
    const found = added.get(token);
    if (!found) continue;
    const left = i > 0 ? pieces[i - 1] : undefined;
    const right = i < pieces.length - 1 ? pieces[i + 1] : undefined;
    if (found.rstrip && right) pieces[i + 1] = pyLstrip(right);
    if (found.lstrip && left) pieces[i - 1] = pyRstrip(left);
    if (found.singleWord && left && !left.endsWith(' ')) {
      pieces[i - 1] += token;
      pieces[i] = '';
    } else if (found.singleWord && right && !right.startsWith(' ')) {
      pieces[i + 1] = token + pieces[i + 1]!;
      pieces[i] = '';
    }
  }
  return pieces.filter((piece) => piece.length > 0).map((piece) => {
    const found = added.get(piece);
    return found ? { added: found } : { text: piece };
  });
}
