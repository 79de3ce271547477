// Config files as Python's json module reads them: NaN, Infinity and -Infinity are numbers, inside strings they are text.
import { describe, expect, it } from '@jest/globals';
import { parsePythonJson } from '../../src/json/python-json.js';

describe('parsePythonJson', () => {
  it('reads the non-finite literals Python writes', () => {
    expect(parsePythonJson('{"a": -Infinity, "b": Infinity, "c": [NaN, 1, -2.5e-3]}')).toEqual({ a: -Infinity, b: Infinity, c: [NaN, 1, -2.5e-3] });
  });

  it('leaves the same words inside strings and keys alone, escapes included', () => {
    const text = '{"NaN": "x NaN -Infinity \\" Infinity", "k\\\\": "Infinity", "v": -Infinity}';
    expect(parsePythonJson(text)).toEqual({ NaN: 'x NaN -Infinity " Infinity', 'k\\': 'Infinity', v: -Infinity });
  });

  it('is JSON.parse for plain JSON, errors included', () => {
    expect(parsePythonJson('{"a": [1, true, null]}')).toEqual({ a: [1, true, null] });
    expect(() => parsePythonJson('{"a": -}')).toThrow(SyntaxError);
    expect(() => parsePythonJson('{"a": -Infinity,}')).toThrow(SyntaxError);
  });
});
