// The README's first-screen example, read from the README itself: the JSON body of its curl generation command, so
// the committed picture (`make readme-image`) and the test that checks it run exactly what a reader runs.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../server-process.js';

/** The model `make run` serves and the id it reports. */
export const DEFAULT_MODEL = { dir: 'models/shapes', id: 'hypergen/shapes' } as const;
/** Where the README's picture lives. */
export const README_IMAGE = 'docs/images/red-circle.png';

/** The body of the README's first `curl … /v1/images/generations … -d '{…}'` command. */
export function readmeGenerationBody(readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8')): Record<string, unknown> {
  const match = /curl -s \S*\/v1\/images\/generations[\s\S]*?-d '(\{[^']*\})'/.exec(readme);
  if (!match) throw new Error('README.md has no `curl …/v1/images/generations … -d \'{…}\'` command');
  return JSON.parse(match[1]!) as Record<string, unknown>;
}
