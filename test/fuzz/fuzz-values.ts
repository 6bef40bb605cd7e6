/** fast-check arbitraries for hostile values: odd Unicode, boundaries, wrong types, deep nesting, raw bodies. */
import fc from 'fast-check';

/** Characters that break naive code: lone surrogates, NUL, controls, RTL override, emoji, combining marks. */
export const ODD_CHARS = ['\uD800', '\uDFFF', '\u0000', '\u0007', '\u202E', '\u200F', '\uFEFF', '😀', '👨‍👩‍👧', 'e\u0301\u0301\u0301', '\u0308', '张', '\uFFFF', '\r\n', '"', '\\', '<script>', "'; drop table taps; --", '%00', '../'];

export const oddString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...ODD_CHARS, '', ' ', '0', '-1', 'null', 'true', '2022-02-30', '9999-12-31', '1970-01-01T00:00:00Z'),
  fc.array(fc.constantFrom(...ODD_CHARS), { minLength: 1, maxLength: 8 }).map((a) => a.join('')),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: fc.constantFrom(...ODD_CHARS, 'a', '1'), maxLength: 30 }),
  fc.integer({ min: 1000, max: 70_000 }).map((n) => 'x'.repeat(n)),
);

export const boundaryNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(0, -0, -1, 1, 2 ** 31, 2 ** 31 - 1, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 2 ** 63, 1e308, -1e308, 5e-324, 0.5, 1.5, 4.999, 500, 501, 1_048_576, 1_048_577),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
);

/** Any JSON value, biased to hostile leaves. */
export const hostileJson: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    oddString,
    boundaryNumber,
    fc.constantFrom(null, true, false, [], {}),
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(oddString, fc.constantFrom('__proto__', 'constructor', 'taps', 'seq', 'media')), tie('v'), { maxKeys: 4 }),
  ),
})).v;

/** An object nested `depth` levels deep, as JSON text (a recursive parser or validator would overflow). */
export function deepJson(depth: number, kind: 'array' | 'object'): string {
  return kind === 'array' ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

/** Bodies that are not (valid) JSON. */
export const rawBody: fc.Arbitrary<string | Buffer> = fc.oneof(
  fc.constantFrom('', '{', '}', '{"taps":', 'nul', 'NaN', '{"a":1,}', "{'a':1}", '\uFEFF{}', '[]', '""', '0', '{"__proto__":{"x":1}}', '\u0000'),
  fc.constantFrom(deepJson(5000, 'array'), deepJson(5000, 'object'), deepJson(100_000, 'array')),
  fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
  fc.constantFrom(Buffer.from([0xff, 0xfe, 0x00]), Buffer.from([0xc3, 0x28]), Buffer.from('{"a":"\xed\xa0\x80"}', 'latin1')),
);

/** A content-type header, right or wrong. */
export const contentType: fc.Arbitrary<string | undefined> = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  undefined,
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'application/xml',
);

/** A string that is safe to put in a header value (no CR/LF or non-Latin-1). */
export const headerValue: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('', '0', '-1', '9007199254740993', '1e3', ' 1 ', 'abc', 'x'.repeat(5000), '../etc', 'null'),
  fc.string({ unit: fc.constantFrom('a', '1', '.', ':', '-', '_', ' ', '%', '\t'), maxLength: 80 }),
);
