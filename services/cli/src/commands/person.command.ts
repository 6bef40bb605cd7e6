/**
 * `ridetally person show <person_id>` and `ridetally person find` (reads the ID number from stdin,
 * so it never lands in shell history or process lists): a person's masked name, media bindings and
 * in-service intervals, for support questions ("why are my rides not counted?"). Never prints an ID
 * number, a name in clear or a phone.
 */
import type { Command } from 'commander';
import { findBindingsOfPerson, findEmploymentsOfPersons, findPersonById, findPersonByIdHashes } from '@ridetally/db';
import { checkNationalId, NATIONAL_ID_MESSAGES, normaliseNationalId } from '@ridetally/domain';
import type { Keyring } from '@ridetally/keyring';
import { CliError, withContext, type CliContext } from '../context';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').trim();
}

async function printPerson(ctx: CliContext, personId: string, json: boolean): Promise<void> {
  const db = ctx.handle.db;
  const person = await findPersonById(db, personId);
  if (!person) throw new CliError(`no person ${personId}`);
  const bindings = (await findBindingsOfPerson(db, personId)).map((b) => ({
    type: b.media_type,
    kind: b.media_kind,
    // An ID card's key is the keyed hash of the number: shown as "own ID card".
    id: b.media_type === 'id_card' ? '(own ID card)' : b.media_key,
    validFrom: b.valid_from.toISOString(),
    validTo: b.valid_to?.toISOString() ?? null,
  }));
  const employments = (await findEmploymentsOfPersons(db, [personId])).map((e) => ({ employer: e.employer_code, from: e.from, to: e.to }));
  const view = { personId, name: person.name_masked, hasPhone: person.phone_ciphertext !== null, bindings, employments };
  if (json) {
    process.stdout.write(JSON.stringify(view) + '\n');
    return;
  }
  process.stdout.write(`person ${personId}  ${view.name}\n`);
  for (const b of bindings) process.stdout.write(`  medium     ${b.type}${b.kind ? `/${b.kind}` : ''} ${b.id}  ${b.validFrom} → ${b.validTo ?? 'open'}\n`);
  for (const e of employments) process.stdout.write(`  in service ${e.employer}  ${e.from} → ${e.to ?? 'open'}\n`);
}

/** The number's hashes: the current key's, then (during a master-key rotation) the previous key's. */
function hashesFromStdin(keyring: Keyring, raw: string): string[] {
  const problem = checkNationalId(raw);
  if (problem) throw new CliError(NATIONAL_ID_MESSAGES[problem]);
  return keyring.idHashCandidates(normaliseNationalId(raw));
}

export function registerPerson(program: Command): void {
  const cmd = program.command('person').description('look up a real-name person (masked; never prints ID numbers, names or phones)');
  cmd
    .command('show <person_id>')
    .description('a person’s masked name, media bindings and in-service intervals')
    .option('--json', 'print JSON')
    .action((personId: string, opts: { json?: boolean }) =>
      withContext(async (ctx) => {
        if (!/^[0-9a-f-]{36}$/i.test(personId)) throw new CliError('person_id must be a UUID');
        await printPerson(ctx, personId, opts.json ?? false);
      }),
    );
  cmd
    .command('find')
    .description('find a person by ID number read from stdin (e.g. `pnpm ridetally person find < id.txt`)')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) =>
      withContext(async (ctx) => {
        const person = await findPersonByIdHashes(ctx.handle.db, hashesFromStdin(ctx.keyring, await readStdin()));
        if (!person) throw new CliError('no person is registered with that ID number');
        await printPerson(ctx, person.person_id, opts.json ?? false);
      }),
    );
}
