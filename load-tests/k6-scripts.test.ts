/**
 * The k6 scripts run in k6's JavaScript runtime, not in Node, so nothing else would notice a script
 * that k6 cannot load. This test parses every load-tests/*.js with an ES2017-only parser (newer
 * syntax fails the build), checks each script's k6 contract (constant arrival rate, thresholds on
 * failures, p99 and dropped iterations, secrets only from files), and type-checks the scripts
 * against @types/k6 and the Node driver with tsc.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'acorn';
import { describe, expect, it } from 'vitest';

const DIR = import.meta.dirname;
const ROOT = join(DIR, '..');
const scripts = readdirSync(DIR)
  .filter((f) => f.endsWith('.js'))
  .sort();
/** k6 entry scripts (the rest are modules they import). */
const entryScripts = scripts.filter((f) => /^export\s+default\s+function/m.test(readFileSync(join(DIR, f), 'utf8')));

function parseEs2017(source: string): void {
  parse(source, { ecmaVersion: 2017, sourceType: 'module' });
}

describe('k6 scripts (load-tests/*.js)', () => {
  it('finds the rider-app and staff scripts', () => {
    expect(entryScripts).toEqual(expect.arrayContaining(['rider-app.js', 'staff.js']));
  });

  it('rejects syntax newer than ES2017 (the parser really is that strict)', () => {
    for (const newer of ['a?.b;', 'a ?? b;', 'var n = 1_000;', 'var o = { ...p };', 'try {} catch {}', 'class A { x = 1 }', 'for await (const x of y) {}']) {
      expect(() => parseEs2017(newer), newer).toThrow();
    }
    expect(() => parseEs2017('export default async function () { await 1; }')).not.toThrow();
  });

  it.each(scripts)('%s parses as ES2017', (file) => {
    expect(() => parseEs2017(readFileSync(join(DIR, file), 'utf8'))).not.toThrow();
  });

  it.each(entryScripts)('%s runs at a constant arrival rate with the required thresholds', (file) => {
    const source = readFileSync(join(DIR, file), 'utf8');
    expect(source).toMatch(/executor:\s*'constant-arrival-rate'/);
    expect(source).toMatch(/http_req_failed:\s*\[/);
    expect(source).toMatch(/p\(99\)</);
    expect(source).toMatch(/dropped_iterations:\s*\[/);
  });

  it.each(scripts)('%s reads secrets only from files named by the environment', (file) => {
    const source = readFileSync(join(DIR, file), 'utf8');
    for (const m of source.matchAll(/__ENV\.([A-Z0-9_]+)/g)) {
      const name = m[1]!;
      if (/TOKEN|PASSWORD|SECRET|KEY/.test(name)) expect(name, `${file}: __ENV.${name}`).toMatch(/_FILE$/);
    }
  });

  it('type-checks the k6 scripts against @types/k6 and the Node driver', () => {
    const tsc = join(ROOT, 'node_modules/.bin/tsc');
    for (const project of ['load-tests', 'load-tests/node-driver']) {
      try {
        execFileSync(tsc, ['-p', project], { cwd: ROOT, encoding: 'utf8', stdio: 'pipe' });
      } catch (err) {
        const e = err as { stdout?: string; stderr?: string };
        throw new Error(`tsc -p ${project} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
      }
    }
  }, 120_000);
});
