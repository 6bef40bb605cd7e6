/**
 * `pnpm bench <name> [args…]` runs one benchmark (`pnpm bench` alone lists them). Each prints its
 * figures against a baseline measured in the same run; docs/performance.md records them.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const scripts = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> }).scripts;
const names = Object.keys(scripts)
  .filter((s) => s.startsWith('bench:'))
  .map((s) => s.slice('bench:'.length));
const [name, ...args] = process.argv.slice(2);

if (!name || !names.includes(name)) {
  process.stderr.write(`${name ? `no benchmark "${name}"\n` : ''}usage: pnpm bench <${names.join('|')}> [args…]\n`);
  process.exit(name ? 2 : 0);
}
const result = spawnSync('pnpm', ['run', `bench:${name}`, ...args], { stdio: 'inherit' });
process.exit(result.status ?? 1);
