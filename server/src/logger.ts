// The server's pino logger: ISO-timestamped JSON on stdout with credential headers redacted by path, and every known
// secret and credential query parameter scrubbed from each line by value before it is written.
import { pino, type Logger, type LevelWithSilent } from 'pino';

// Header paths that may carry credentials; pino replaces their values before a line is written. A backstop for
// keys the server does not know (a wrong one, another service's): the server's own keys are scrubbed by value below.
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'req.headers["api-key"]',
  'req.headers["x-goog-api-key"]',
  'req.headers["openai-api-key"]',
  'req.headers["x-auth-token"]',
  'req.headers["proxy-authorization"]',
];

export const CENSOR = '[REDACTED]';

// Query parameters that carry credentials by convention (?api_key=, ?key=, ?access_token=, ...), in any logged URL.
const SECRET_QUERY = /([?&](?:api[_-]?key|key|access[_-]?token|token|auth|password|secret)=)[^&"\s\\]*/gi;

/** The spellings a secret can take inside a JSON log line: as is, JSON-escaped, percent-encoded (URLs), both. */
function spellings(secret: string): string[] {
  const json = (s: string) => JSON.stringify(s).slice(1, -1);
  const encoded = encodeURIComponent(secret);
  return [...new Set([secret, json(secret), encoded, json(encoded)])];
}

/**
 * Scrubs every known secret from every log line by value, whatever header, query parameter or field carried it.
 * Secret sources are functions (a key file's keys change), registered once the keys are known.
 */
export class SecretScrubber {
  private readonly sources: Array<() => Iterable<string>> = [];
  private cache = new Map<string, string[]>();

  add(source: () => Iterable<string>): void {
    this.sources.push(source);
  }

  scrub(line: string): string {
    let out = line.replace(SECRET_QUERY, `$1${CENSOR}`);
    for (const source of this.sources) {
      for (const secret of source()) {
        if (secret === '') continue;
        let forms = this.cache.get(secret);
        if (!forms) this.cache.set(secret, (forms = spellings(secret)));
        for (const form of forms) if (out.includes(form)) out = out.split(form).join(CENSOR);
      }
    }
    return out;
  }
}

export function createLogger(level: LevelWithSilent = 'info', scrubber: SecretScrubber = new SecretScrubber()): Logger {
  return pino({
    level,
    base: { service: 'hypergen-server' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACTED_PATHS, censor: CENSOR },
    hooks: { streamWrite: (line) => scrubber.scrub(line) },
  });
}
