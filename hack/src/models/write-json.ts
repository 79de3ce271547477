// JSON files as diffusers and transformers write them: two-space indent, trailing newline.
import { writeFileSync } from 'node:fs';

export const writeJson = (path: string, value: unknown): void => writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
