/**
 * The root tsconfig (`pnpm typecheck`) does not cover infra/, so its tests are type-checked here.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';

it('type-checks infra/ (tsc -p infra)', () => {
  const root = join(import.meta.dirname, '..');
  let output = '';
  try {
    execFileSync(join(root, 'node_modules/.bin/tsc'), ['-p', 'infra'], { cwd: root, encoding: 'utf8', stdio: 'pipe' });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    output = `${e.stdout ?? ''}${e.stderr ?? ''}`;
  }
  expect(output).toBe('');
}, 120_000);
