import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import type { Config } from '../../config.js';
import { isArchiveName } from '../../ops/backup/backup-format.js';
import type { BackupResult } from '../../ops/backup/backup.service.js';
import { lockForRestore, runningServers } from '../../ops/backup/data-dir-lock.js';
import { inspectRestore, type RestorePlan, runRestore } from '../../ops/backup/restore.service.js';
import { AppError } from '../../shared/errors.js';
import { progressBar } from '../progress.js';
import { withCore } from './admin.js';

type Out = (line: string) => void;

/** A refusal the CLI answers with the usage exit code (2). */
export { UsageError } from '../exit-codes.js';
import { UsageError } from '../exit-codes.js';

const size = (n: number) => (n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);

/** `plaza backup [--output DIR] [--json]`: one archive, written while a server may keep serving. */
export async function backupCommand(config: Readonly<Config>, opts: { output?: string; json?: boolean }, out: Out): Promise<void> {
  const bar = progressBar('Backup', process.stdout.isTTY === true && !opts.json);
  let r: BackupResult;
  try {
    r = await withCore(config, (core) =>
      core.backups.create({ ...(opts.output ? { outputDir: opts.output } : {}), onProgress: (p) => bar.update(p.doneBytes, p.totalBytes) }),
    );
  } finally {
    bar.stop();
  }
  const rows = Object.values(r.manifest.rowCounts).reduce((a, b) => a + b, 0);
  if (opts.json) {
    out(JSON.stringify({ archive: r.path, name: r.name, bytes: r.size, durationMs: Math.round(r.durationMs), rowCounts: r.manifest.rowCounts, files: r.manifest.fileCount, fileBytes: r.manifest.fileBytes, missing: r.missing }));
    return;
  }
  out(`Backup written: ${r.path}`);
  out(`  ${size(r.size)}, ${rows} rows, ${r.manifest.fileCount} files (${size(r.manifest.fileBytes)}), in ${(r.durationMs / 1000).toFixed(1)} s`);
  for (const m of r.missing) out(`  warning: ${m} is listed but its bytes were missing from storage`);
}

/** ARCHIVE as given (a path, or a name in data/backups), or the newest regular archive there. */
function resolveArchive(config: Readonly<Config>, given: string | undefined): string {
  const dir = path.join(config.dataDir, 'backups');
  if (given !== undefined) {
    const candidates = isArchiveName(given) ? [path.join(dir, given), path.resolve(given)] : [path.resolve(given)];
    const found = candidates.find((c) => existsSync(c) && statSync(c).isFile());
    if (!found) throw new AppError('NOT_FOUND', `No archive at ${given}`);
    return found;
  }
  const newest = (existsSync(dir) && statSync(dir).isDirectory() ? readdirSync(dir) : [])
    .filter((n) => /^plaza-backup-\d{8}T\d{9}Z\.tar$/.test(n))
    .sort()
    .at(-1);
  if (!newest) throw new AppError('NOT_FOUND', `No archive in ${dir}; name one: plaza restore <ARCHIVE>`);
  return path.join(dir, newest);
}

function planJson(plan: RestorePlan, extra: object) {
  const m = plan.manifest;
  return {
    archive: plan.archive,
    archiveBytes: plan.archiveBytes,
    createdAt: m.createdAt,
    dialect: m.dialect,
    plazaVersion: m.plazaVersion,
    schemaVersion: m.schemaVersion,
    formatVersion: m.formatVersion,
    checksums: plan.checksums,
    entries: m.entries.length,
    rowCounts: m.rowCounts,
    files: { count: m.fileCount, bytes: m.fileBytes },
    current: plan.current,
    ...extra,
  };
}

function printPlan(plan: RestorePlan, dataDir: string, out: Out) {
  const m = plan.manifest;
  out(`Archive:    ${plan.archive} (${size(plan.archiveBytes)})`);
  out(`Taken:      ${m.createdAt} on ${m.dialect}, Plaza ${m.plazaVersion}, schema ${m.schemaVersion} (format ${m.formatVersion})`);
  out(`Checksums:  verified (${m.entries.length} entries, SHA-256 and sizes match the manifest)`);
  out(`Files:      ${m.fileCount} (${size(m.fileBytes)})${m.missing?.length ? `, ${m.missing.length} listed without bytes` : ''}`);
  out('Rows:       table                     archive    current');
  for (const [table, n] of Object.entries(m.rowCounts)) {
    out(`            ${table.padEnd(24)} ${String(n).padStart(8)} ${String(plan.current.rowCounts[table] ?? 0).padStart(10)}`);
  }
  out(`Replaces:   every row above and the ${plan.current.files} stored files in ${path.join(dataDir, 'uploads')};`);
  out('            restored sessions and access keys are revoked; a safety backup of the current state is taken first');
}

async function ask(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^(y|yes)$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

/** `plaza restore [ARCHIVE] [--dry-run] [--yes] [--json]`. */
export async function restoreCommand(
  config: Readonly<Config>,
  given: string | undefined,
  opts: { dryRun?: boolean; yes?: boolean; json?: boolean },
  out: Out,
): Promise<void> {
  const archive = resolveArchive(config, given);
  const bar = progressBar('Verify', process.stdout.isTTY === true && !opts.json);
  const total = statSync(archive).size;
  let done = 0;
  const onBytes = (n: number) => bar.update((done += n), total);
  if (opts.dryRun) {
    const plan = await inspectRestore(config, archive, onBytes).finally(() => bar.stop());
    const servers = runningServers(config.dataDir);
    if (opts.json) return out(JSON.stringify(planJson(plan, { dryRun: true, serversRunning: servers })));
    printPlan(plan, config.dataDir, out);
    if (servers.length > 0) out(`Note:       a server is running on this data dir (${servers.join(', ')}): a real restore needs it stopped`);
    out('Dry run: nothing was changed.');
    return;
  }
  if (!opts.yes && !process.stdin.isTTY) {
    throw new UsageError('Refusing to restore: there is no terminal to confirm on. Re-run with --yes to confirm (or --dry-run to look first).');
  }
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const release = lockForRestore(config.dataDir);
  try {
    const crash = config.backup.testCrashAt;
    const result = await withCore(config, (core) =>
      runRestore(
        {
          database: core.database,
          backups: core.backups,
          audit: core.audit,
          dataDir: config.dataDir,
          clock: core.clock,
          ...(crash ? { crashAt: (p: string) => p === crash && process.kill(process.pid, 'SIGKILL') } : {}),
        },
        archive,
        {
          onBytes,
          onStep: (step) => {
            if (step !== 'verifying') bar.stop();
            if (!opts.json && step !== 'verifying') out(`… ${step}`);
          },
          confirm: async (plan) => {
            bar.stop();
            if (!opts.json) printPlan(plan, config.dataDir, out);
            if (opts.yes) return true;
            return ask(`Restore this archive over ${config.dataDir}? Type "yes" to go on: `);
          },
        },
      ),
    );
    if (!result) {
      if (opts.json) out(JSON.stringify({ restored: false, reason: 'not confirmed' }));
      else out('Not restored: nothing was changed.');
      return;
    }
    if (opts.json) return out(JSON.stringify(planJson(result, { restored: true, safetyBackup: result.safetyBackup, durationMs: Math.round(result.durationMs) })));
    out(`Restored ${path.basename(archive)} in ${(result.durationMs / 1000).toFixed(1)} s; every session was revoked (users log in again).`);
    out(`Safety backup of the previous state: ${result.safetyBackup}`);
  } finally {
    bar.stop();
    release();
  }
}
