// A small Dockerfile policy check for the product images: pinned bases, non-root runtime user, no secrets.

export interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

/** Splits a Dockerfile into instructions, joining backslash continuations and dropping comments. */
export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trimEnd();
    if (pending === '' && /^\s*(#|$)/.test(line)) return;
    if (pending !== '' && /^\s*#/.test(line)) return; // comment lines inside a continuation
    if (pending === '') start = i + 1;
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' ';
      return;
    }
    const full = (pending + line).trim();
    pending = '';
    const m = /^(\S+)\s*(.*)$/s.exec(full)!;
    out.push({ keyword: m[1]!.toUpperCase(), args: m[2]!, line: start });
  });
  return out;
}

/**
 * How the image's last stage starts Node: the flags of an exec-form `ENTRYPOINT ["node", FLAGS..., SCRIPT]` and its
 * NODE_OPTIONS, so that benchmarks run a process the way the image does.
 */
export function nodeRuntime(text: string): { flags: string[]; nodeOptions?: string } {
  const instructions = parseDockerfile(text);
  const lastFrom = instructions.map((i) => i.keyword).lastIndexOf('FROM');
  const stage = instructions.slice(lastFrom);
  const entry = stage.filter((i) => i.keyword === 'ENTRYPOINT').pop();
  const argv = entry ? (JSON.parse(entry.args) as string[]) : [];
  if (argv[0] !== 'node') throw new Error('the Dockerfile has no exec-form ENTRYPOINT ["node", ...]');
  const nodeOptions = stage
    .filter((i) => i.keyword === 'ENV')
    .map((i) => /(?:^|\s)NODE_OPTIONS=("[^"]*"|\S+)/.exec(i.args)?.[1])
    .filter((v): v is string => v !== undefined)
    .pop()
    ?.replace(/^"|"$/g, '');
  return { flags: argv.slice(1, -1), ...(nodeOptions ? { nodeOptions } : {}) };
}

const SECRET_NAME = /(KEY|TOKEN|PASSWORD|PASSWD|SECRET|CREDENTIAL)/i;
const SECRET_FILE = /(^|\/)(\.env(\.[^/\s]*)?|[^/\s]*\.pem|[^/\s]*\.key|id_rsa[^/\s]*|\.npmrc|\.netrc|\.git-credentials)$/;

/** An exact base: a digest, or a tag with a full version (20.19.5, 12.6.3-cudnn-runtime-ubuntu24.04). */
export function isPinned(image: string): boolean {
  if (/@sha256:[0-9a-f]{64}$/.test(image)) return true;
  const tag = /:([^/:@]+)$/.exec(image)?.[1];
  return tag !== undefined && /^v?\d+\.\d+\.\d+([-.][\w.-]+)?$/.test(tag);
}

/** Variable names an ENV or ARG instruction sets, with whether a value is given. */
function assignments(args: string): { name: string; hasValue: boolean }[] {
  const parts = args.match(/(?:[^\s"']+|"[^"]*"|'[^']*')+/g) ?? [];
  if (parts.length >= 2 && !parts[0]!.includes('=')) return [{ name: parts[0]!, hasValue: true }]; // ENV NAME value
  return parts.map((p) => {
    const eq = p.indexOf('=');
    return eq < 0 ? { name: p, hasValue: false } : { name: p.slice(0, eq), hasValue: eq < p.length - 1 };
  });
}

/** Problems with a Dockerfile; empty when it is fine. */
export function checkDockerfile(text: string): string[] {
  const problems: string[] = [];
  const ins = parseDockerfile(text);
  const stages = new Set<string>();
  let user: Instruction | undefined;
  for (const i of ins) {
    if (i.keyword === 'FROM') {
      const words = i.args.split(/\s+/).filter((w) => !w.startsWith('--'));
      const image = words[0] ?? '';
      if (!stages.has(image) && !isPinned(image)) problems.push(`line ${i.line}: base image ${image} is not pinned to a version or digest`);
      if (words[1]?.toUpperCase() === 'AS' && words[2]) stages.add(words[2]);
      user = undefined; // USER does not carry over into a new stage
    }
    if (i.keyword === 'USER') user = i;
    if (i.keyword === 'ENV' || i.keyword === 'ARG') {
      for (const a of assignments(i.args)) {
        if (SECRET_NAME.test(a.name) && a.hasValue) problems.push(`line ${i.line}: ${i.keyword} ${a.name} bakes a secret-like value into the image`);
      }
    }
    if (i.keyword === 'COPY' || i.keyword === 'ADD') {
      const paths = i.args.split(/\s+/).filter((w) => !w.startsWith('--'));
      for (const p of paths.slice(0, -1)) {
        if (SECRET_FILE.test(p)) problems.push(`line ${i.line}: ${i.keyword} of ${p} would put credentials in the image`);
      }
    }
  }
  if (!user) problems.push('the final stage sets no USER: it would run as root');
  else {
    const name = user.args.split(':')[0]!.trim();
    if (name === 'root' || name === '0') problems.push(`line ${user.line}: the final stage runs as root`);
    else if (!/^\d+$/.test(name)) problems.push(`line ${user.line}: USER ${name} is not numeric, so runAsNonRoot cannot verify it`);
  }
  return problems;
}
