// The text normalisation transformers' CLIPTokenizer runs when ftfy is not installed (as `pip install diffusers
// transformers` leaves it): a port of BasicTokenizer(strip_accents=False, do_split_on_punc=False) from transformers
// 4.42 tokenization_bert.py / tokenization_clip.py, plus Python's str.split()/strip() whitespace set.

/**
 * The characters Python's str.isspace() accepts (bidi class WS, B, S or category Zs): what str.split(), strip(),
 * lstrip() and rstrip() without arguments treat as whitespace.
 */
const PY_SPACE = '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const PY_SPACE_RUN = new RegExp(`[${PY_SPACE}]+`, 'u');
const PY_LEADING_SPACE = new RegExp(`^[${PY_SPACE}]+`, 'u');
const PY_TRAILING_SPACE = new RegExp(`[${PY_SPACE}]+$`, 'u');

/** Python's str.lstrip() with no argument. */
export function pyLstrip(text: string): string {
  return text.replace(PY_LEADING_SPACE, '');
}

/** Python's str.rstrip() with no argument. */
export function pyRstrip(text: string): string {
  return text.replace(PY_TRAILING_SPACE, '');
}

/** whitespace_tokenize: strip, then str.split() on Python whitespace. */
export function whitespaceTokenize(text: string): string[] {
  return text.split(PY_SPACE_RUN).filter((token) => token.length > 0);
}

// _is_control: unicodedata.category(c) starts with "C" (Cc, Cf, Cs, Co, Cn), except \t \n \r.
const CONTROL = /^\p{C}$/u;
// _is_whitespace: " ", \t, \n, \r or category Zs.
const WHITESPACE = /^[ \t\n\r\p{Zs}]$/u;

/** _is_chinese_char: the CJK Unified Ideographs blocks BasicTokenizer pads with spaces (code points). */
export function isChineseChar(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

/**
 * _clean_text then _tokenize_chinese_chars, per code point: NUL, U+FFFD and control/format/private/unassigned
 * characters are dropped, whitespace (Zs and \t \n \r) becomes a space, CJK ideographs get a space on each side.
 */
function cleanAndPadCjk(text: string): string {
  let out = '';
  for (const char of text) {
    const cp = char.codePointAt(0)!;
    if (cp === 0 || cp === 0xfffd || (char !== '\t' && char !== '\n' && char !== '\r' && CONTROL.test(char))) continue;
    if (WHITESPACE.test(char)) out += ' ';
    else if (isChineseChar(cp)) out += ` ${char} `;
    else out += char;
  }
  return out;
}

/**
 * BasicTokenizer(do_lower_case=True, strip_accents=False, do_split_on_punc=False).tokenize(text): cleaned, CJK
 * padded, NFC-normalised, split on whitespace and lower-cased word by word (Python's str.lower and JavaScript's
 * toLowerCase both apply the full Unicode lower-case mapping with the final-sigma rule).
 */
export function basicTokenize(text: string): string[] {
  const words = whitespaceTokenize(cleanAndPadCjk(text).normalize('NFC')).map((word) => word.toLowerCase());
  return whitespaceTokenize(words.join(' '));
}
