// The Hugging Face token: --token-file, else HF_TOKEN, else the file HF_TOKEN_FILE names. Errors name the source,
// never the value.
import { readFile } from 'node:fs/promises';
import { PullError } from './errors.js';

/**
 * The Hugging Face token: --token-file, else HF_TOKEN, else the file HF_TOKEN_FILE names (a mounted Secret).
 * Messages name the source, never the value.
 */
export async function readToken(tokenFile: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const file = tokenFile ?? (env.HF_TOKEN?.trim() ? undefined : env.HF_TOKEN_FILE);
  if (!file) return env.HF_TOKEN?.trim() || undefined;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new PullError(`cannot read the token file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const token = text.trim();
  if (!token) throw new PullError(`the token file ${file} is empty`);
  if (/\s/.test(token)) throw new PullError(`the token file ${file} holds more than one word; it must hold only the token`);
  return token;
}
