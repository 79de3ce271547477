// Typed conversion failures. Each message is one line meant for the person running the command; the CLI maps every
// ConvertError to exit status 2 (the input cannot be converted as it is, retrying will not help).
export class ConvertError extends Error {
  override name = 'ConvertError';
}

/** The pipeline, a component or one of its config options is an architecture HyperGen does not convert. */
export class UnsupportedModelError extends ConvertError {
  override name = 'UnsupportedModelError';
}

/** A file conversion needs is absent (model_index.json, a config.json, a component's safetensors). */
export class MissingFileError extends ConvertError {
  override name = 'MissingFileError';
  constructor(
    readonly file: string,
    what: string,
  ) {
    super(`${what}: ${file} is missing`);
  }
}

/** A safetensors file that is truncated, has a corrupt header or tensors that disagree with their header. */
export class SafetensorsError extends ConvertError {
  override name = 'SafetensorsError';
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: not a valid safetensors file: ${problem}`);
  }
}

/** The checkpoint lacks parameters the architecture needs, or holds them in another shape. */
export class WeightMismatchError extends ConvertError {
  override name = 'WeightMismatchError';
  constructor(
    readonly component: string,
    readonly missing: readonly string[],
    readonly misshapen: readonly string[],
  ) {
    const parts: string[] = [];
    if (missing.length > 0) parts.push(`${missing.length} missing (${list(missing)})`);
    if (misshapen.length > 0) parts.push(`${misshapen.length} of another shape (${list(misshapen)})`);
    super(`${component}: the checkpoint does not match its config.json: ${parts.join('; ')}`);
  }
}

function list(names: readonly string[]): string {
  return names.length <= 5 ? names.join(', ') : `${names.slice(0, 5).join(', ')}, ...`;
}
