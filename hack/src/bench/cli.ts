// `make bench`: runs the benchmark modules in order and prints their figures (no assertions).
// Usage: node hack/dist/bench/cli.js [MODULE...] [--shape]   (default: every module)
import * as convert from './convert.js';
import * as engine from './engine.js';
import * as gateway from './gateway.js';
import * as operator from './operator.js';
import * as serving from './serving.js';

interface BenchModule {
  run(args: string[]): Promise<void>;
}

const MODULES: Record<string, BenchModule> = { engine, serving, operator, convert, gateway };

async function main(argv: string[]): Promise<void> {
  const named = argv.filter((arg) => !arg.startsWith('--'));
  const unknown = named.filter((name) => !(name in MODULES));
  if (unknown.length > 0) throw new Error(`unknown bench module(s) ${unknown.join(', ')}; known: ${Object.keys(MODULES).join(', ')}`);
  for (const name of named.length > 0 ? named : Object.keys(MODULES)) {
    console.log(`\n=== bench: ${name} ===`);
    await MODULES[name]!.run(argv);
  }
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
