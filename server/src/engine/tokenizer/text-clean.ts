// The text clean-up openai/CLIP applies before BPE (simple_tokenizer.py: basic_clean + whitespace_clean), so that
// prompts tokenize as Stable Diffusion's own CLIPTokenizer tokenizes them.

const NAMED_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

/**
 * html.unescape for numeric character references and the XML/nbsp named entities (the ones prompts carry in
 * practice; other named entities stay as written).
 */
function unescapeHtml(text: string): string {
  return text.replace(/&(#[0-9]+|#[xX][0-9a-fA-F]+|[a-zA-Z]+);/g, (whole, body: string) => {
    if (body.startsWith('#')) {
      const code = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return NAMED_ENTITIES[body] ?? whole;
  });
}

/**
 * The parts of ftfy.fix_text (which CLIP runs first) that change ordinary prompts: NFC normalisation and
 * uncurl_quotes (typographic quotes become ASCII quotes).
 */
function fixText(text: string): string {
  return text.normalize('NFC').replace(/[\u2018\u2019\u201a\u201b]/g, "'").replace(/[\u201c\u201d\u201e\u201f]/g, '"');
}

/** basic_clean (ftfy, html.unescape twice, strip), whitespace_clean, then lower-casing as CLIP's encode does. */
export function cleanPrompt(text: string): string {
  const cleaned = unescapeHtml(unescapeHtml(fixText(text)));
  return cleaned.replace(/\s+/g, ' ').trim().toLowerCase();
}
