// JSON as Python's json module reads it: also the bare words NaN, Infinity and -Infinity (diffusers writes
// `"lambda_min_clipped": -Infinity` into every DPMSolverMultistepScheduler config). Strings are left untouched.
import { randomBytes } from 'node:crypto';

const WORDS: [string, number][] = [
  ['-Infinity', -Infinity],
  ['Infinity', Infinity],
  ['NaN', NaN],
];

/** JSON.parse that also accepts Python's non-finite number literals outside strings. */
export function parsePythonJson(text: string): unknown {
  let marker = `\u0000hypergen-${randomBytes(8).toString('hex')}:`;
  while (text.includes(marker)) marker = `\u0000hypergen-${randomBytes(8).toString('hex')}:`;
  let out = '';
  let copied = 0;
  let replaced = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      // Skip the string literal, escapes included.
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      continue;
    }
    const word = WORDS.find(([w]) => text.startsWith(w, i));
    if (!word) continue;
    out += `${text.slice(copied, i)}${JSON.stringify(marker + word[0])}`;
    i += word[0].length - 1;
    copied = i + 1;
    replaced = true;
  }
  if (!replaced) return JSON.parse(text);
  const values = new Map(WORDS.map(([w, v]) => [marker + w, v]));
  return JSON.parse(out + text.slice(copied), (_key, value: unknown) => (typeof value === 'string' && values.has(value) ? values.get(value) : value));
}
