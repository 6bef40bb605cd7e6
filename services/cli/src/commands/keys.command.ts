/**
 * `ridetally keys …`: the master key. `keys rotate` re-keys stored data after a master-key change
 * (RIDETALLY_MASTER_KEY = new, RIDETALLY_MASTER_KEY_PREVIOUS = old; docs/operations.md), in batches,
 * resumable, with a progress bar on a terminal and one line per batch otherwise; `--dry-run` counts,
 * `--check` (or `keys status`) tells how many rows are still under another key (exit 1 if any).
 * Output names key ids (public hash prefixes), counts and person ids, never a key, hash or ID number.
 */
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { keyStatus, rotateKeys, KeyRotationError, type KeyRotationPhase, type KeyStatus } from '@ridetally/registry';
import { CliError, withContext } from '../context';

function printStatus(s: KeyStatus, json: boolean): void {
  if (json) {
    process.stdout.write(JSON.stringify(s) + '\n');
    return;
  }
  const r = s.remaining;
  const lines = [
    `current key ${s.currentKeyId}, previous ${s.previousKeyId ?? '(not set)'}; key ids in stored ciphertexts: ${s.keyIdsInUse.join(', ') || '(none)'}`,
    `under another key: devices ${r.devices}, persons ${r.persons}, id_card bindings ${r.idCardBindings}, id_card taps ${r.idCardTaps}`,
  ];
  if (s.unknownKeyIds.length) lines.push(`UNREADABLE: data under key id(s) ${s.unknownKeyIds.join(', ')} (neither current nor previous)`);
  if (s.rotation) lines.push(`rotation started ${s.rotation.startedAt}, ${s.rotation.finishedAt ? `finished ${s.rotation.finishedAt}` : 'not finished'}`);
  if (s.staffSessionsToRevoke) lines.push(`staff sessions from before the rotation still active: ${s.staffSessionsToRevoke} (keys rotate revokes them)`);
  for (const c of s.clientsToReissue) lines.push(`client ${c.clientId} (${c.name}): token predates the new key; issue a new one (client add) and revoke this one`);
  lines.push(s.done ? 'nothing left under another key' : 'rows left under another key: run "ridetally keys rotate"');
  process.stdout.write(lines.join('\n') + '\n');
}

async function runStatus(opts: { json?: boolean }): Promise<void> {
  await withContext(async ({ handle, keyring }) => {
    const s = await keyStatus({ db: handle.db, keyring, now: () => new Date() });
    printStatus(s, opts.json ?? false);
    if (!s.done || s.unknownKeyIds.length) process.exitCode = 1;
  });
}

export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('the master key: re-key stored data after a change, and check what is left');

  keys
    .command('status')
    .description('rows still under another master key than RIDETALLY_MASTER_KEY (exit 1 if any)')
    .option('--json', 'one JSON object')
    .action((opts: { json?: boolean }) => runStatus(opts));

  keys
    .command('rotate')
    .description('re-encrypt and re-hash everything under RIDETALLY_MASTER_KEY_PREVIOUS with RIDETALLY_MASTER_KEY (resumable)')
    .option('--dry-run', 'count what would change; change nothing')
    .option('--check', 'same as "keys status": what is left under another key (exit 1 if any)')
    .option('--batch-size <n>', 'persons / devices / tap media keys per transaction', '100')
    .option('--json', 'print the report as one JSON object')
    .action((opts: { dryRun?: boolean; check?: boolean; batchSize: string; json?: boolean }) => {
      if (opts.check) return runStatus(opts);
      const batchSize = Number(opts.batchSize);
      if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) throw new CliError('--batch-size must be an integer from 1 to 10000');
      return withContext(async ({ handle, keyring }) => {
        const tty = process.stderr.isTTY;
        const bars = tty
          ? new cliProgress.MultiBar(
              { format: 'keys rotate {phase} {bar} {percentage}% | {value}/{total} | {eta_formatted}', stream: process.stderr, hideCursor: true },
              cliProgress.Presets.shades_classic,
            )
          : undefined;
        const open = new Map<KeyRotationPhase, cliProgress.SingleBar>();
        const onProgress = (phase: KeyRotationPhase, done: number, total: number) => {
          if (!bars) {
            process.stderr.write(`keys rotate: ${phase} ${done}/${total}\n`);
            return;
          }
          let bar = open.get(phase);
          if (!bar) {
            bar = bars.create(Math.max(total, done), 0, { phase: phase.padEnd(7) });
            open.set(phase, bar);
          }
          if (done > bar.getTotal()) bar.setTotal(done);
          bar.update(done);
        };
        try {
          const report = await rotateKeys({ db: handle.db, keyring, now: () => new Date() }, { batchSize, dryRun: opts.dryRun ?? false, actor: 'cli', onProgress });
          bars?.stop();
          if (opts.json) {
            process.stdout.write(JSON.stringify(report) + '\n');
          } else {
            const c = report.changed;
            const a = report.after;
            process.stdout.write(
              [
                `${report.dryRun ? 'would re-key' : 're-keyed'} ${report.fromKeyId ?? '(no previous key)'} -> ${report.toKeyId}: devices ${c.devices}, persons ${c.persons}, id_card bindings ${c.idCardBindings}, id_card taps ${c.idCardTaps} (+ tap_keys ${c.tapKeys}), staff sessions revoked ${c.staffSessionsRevoked}`,
                ...(report.dryRun ? [] : [`tap batches announced again for the aggregator: ${report.reannouncedBatches}; person re-derivations: ${report.personEvents}`]),
                ...(report.dryRun ? [] : [`left under another key: devices ${a.devices}, persons ${a.persons}, id_card bindings ${a.idCardBindings}, id_card taps ${a.idCardTaps}`]),
                ...report.conflicts.map((p) => `conflict: person ${p} not re-keyed: another person holds the same ID under the new key (registered during the rotation); merge them, then run again`),
                ...(report.unreadableTaps ? [`${report.unreadableTaps} id_card tap media key(s) have no ciphertext and cannot be re-keyed`] : []),
                ...report.clientsToReissue.map((cl) => `client ${cl.clientId} (${cl.name}): token predates the new key; issue a new one (client add) and revoke this one`),
              ].join('\n') + '\n',
            );
          }
          if (!report.dryRun && (report.conflicts.length || report.unreadableTaps)) process.exitCode = 1;
        } catch (err) {
          bars?.stop();
          if (err instanceof KeyRotationError) throw new CliError(err.message);
          throw err;
        }
      });
    });
}
