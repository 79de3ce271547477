// The folder a conversion writes: refused when something else already lives there, and replaced as a whole (filled
// in a hidden sibling, then renamed into place), so a reader never sees half a conversion.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ConvertError } from './errors.js';

/** Throws when `out` holds files and no marker of ours (`marker`: the file name, `hasMarker`: whether it was read). */
export function refuseForeignOutput(out: string, hasMarker: boolean, marker: string): void {
  if (existsSync(out) && !hasMarker && readdirSync(out).length > 0) {
    throw new ConvertError(`${out} exists and was not written by hypergen convert (no ${marker}); refusing to replace it`);
  }
}

/** Runs `fill` on an empty hidden sibling of `out`, then puts it in place of `out`; leftovers are removed either way. */
export function replaceFolder<T>(out: string, fill: (tmp: string) => T): T {
  const parent = dirname(out);
  mkdirSync(parent, { recursive: true });
  const tmp = join(parent, `.${basename(out)}.tmp-${process.pid}`);
  const old = join(parent, `.${basename(out)}.old-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  try {
    mkdirSync(tmp);
    const result = fill(tmp);
    if (existsSync(out)) renameSync(out, old);
    renameSync(tmp, out);
    return result;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    rmSync(old, { recursive: true, force: true });
  }
}
