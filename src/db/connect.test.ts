import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createCheckpointer } from './checkpointer.js';
import { connectDatabase, type Database } from './connect.js';

const dirs: string[] = [];
const open: Database[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((d) => d.close()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir() {
  const dir = mkdtempSync(path.join(tmpdir(), 'plaza-db-'));
  dirs.push(dir);
  return dir;
}

let reads = 0;
/** The connection's synchronous level; each read is a new SQL string, so never a cached statement. */
async function level(db: Database['db']): Promise<number | undefined> {
  return (await sql<{ synchronous: number }>`${sql.raw(`pragma synchronous /* ${++reads} */`)}`.execute(db)).rows[0]?.synchronous;
}

async function sqlite(file: string, synchronous?: 'full' | 'normal') {
  const database = await connectDatabase({ database: { kind: 'sqlite', file, ...(synchronous ? { synchronous } : {}) } });
  open.push(database);
  await sql`create table if not exists t (v integer)`.execute(database.db);
  return database;
}

const bootId = () => {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
};

describe('commits made durable later (SQLite)', () => {
  it('commits at once, settles `durable` once the WAL is synced, and leaves FULL on for everything else', async () => {
    const database = await sqlite(path.join(tempDir(), 'a.db'));
    const mode = () => level(database.db);
    expect(await mode()).toBe(2);
    const { result, durable } = await database.transactionDurableLater(async (trx) => {
      await sql`insert into t (v) values (1)`.execute(trx);
      // Inside, the commit will skip its own fsync.
      return level(trx);
    });
    expect(result).toBe(1);
    // Visible before it is durable, and FULL again for the next statement.
    expect((await sql<{ n: number }>`select count(*) as n from t`.execute(database.db)).rows[0]?.n).toBe(1);
    expect(await mode()).toBe(2);
    await expect(durable).resolves.toBeUndefined();
  });

  it('restores FULL when the transaction fails, and other statements wait for it', async () => {
    const database = await sqlite(path.join(tempDir(), 'b.db'));
    const failing = database.transactionDurableLater(async (trx) => {
      await sql`insert into t (v) values (1)`.execute(trx);
      throw new Error('boom');
    });
    // Queued behind the transaction: runs with FULL, after the rollback.
    const other = level(database.db);
    await expect(failing).rejects.toThrow('boom');
    expect(await other).toBe(2);
    expect((await sql<{ n: number }>`select count(*) as n from t`.execute(database.db)).rows[0]?.n).toBe(0);
  });

  it('with synchronous NORMAL chosen, commits as usual and is settled at once', async () => {
    const database = await sqlite(path.join(tempDir(), 'c.db'), 'normal');
    const { durable } = await database.transactionDurableLater((trx) => sql`insert into t (v) values (1)`.execute(trx));
    await expect(durable).resolves.toBeUndefined();
    expect(await level(database.db)).toBe(1);
  });
});

describe('the checkpointer', () => {
  it('keeps checkpoints out of commits and runs them on its own thread once the WAL is big enough', async () => {
    const file = path.join(tempDir(), 'k.db');
    const database = await sqlite(file);
    expect((await sql<{ wal_autocheckpoint: number }>`${sql.raw('pragma wal_autocheckpoint')}`.execute(database.db)).rows[0]?.wal_autocheckpoint).toBe(0);
    for (let i = 0; i < 50; i++) await sql`insert into t (v) values (${i})`.execute(database.db);
    const checkpointer = createCheckpointer(file, 1, 20);
    for (let i = 0; i < 100 && checkpointer.runs() === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(checkpointer.runs()).toBeGreaterThan(0);
    await checkpointer.close();
    // The database is untouched by it, and still takes writes.
    await sql`insert into t (v) values (1000)`.execute(database.db);
    expect((await sql<{ n: number }>`select count(*) as n from t`.execute(database.db)).rows[0]?.n).toBe(51);
  });
});

describe('the WAL file', () => {
  it('shrinks back after a burst once checkpointed, instead of keeping the burst’s size for good', async () => {
    const file = path.join(tempDir(), 'w.db');
    const threshold = 256 * 1024;
    // NORMAL: the burst takes milliseconds, so the checkpointer (every second) cannot catch up with it midway.
    const database = await connectDatabase({ database: { kind: 'sqlite', file, synchronous: 'normal', checkpointBytes: threshold } });
    open.push(database);
    await sql`create table blobs (b blob)`.execute(database.db);
    const walSize = () => statSync(`${file}-wal`).size;
    // ~4 MB of commits: the WAL grows far past the threshold.
    for (let i = 0; i < 1000; i++) await sql`insert into blobs (b) values (${Buffer.alloc(4000, i % 256)})`.execute(database.db);
    expect(walSize()).toBeGreaterThan(4_000_000);
    // The checkpointer (every second) catches up; the next commit starts the WAL afresh, truncated.
    await vi.waitFor(
      async () => {
        await sql`insert into blobs (b) values (${Buffer.alloc(10)})`.execute(database.db);
        expect(walSize()).toBeLessThanOrEqual(threshold / 4);
      },
      { timeout: 8000, interval: 200 },
    );
    expect((await sql<{ n: number }>`select count(*) as n from blobs`.execute(database.db)).rows[0]?.n).toBeGreaterThan(1000);
  });
});

describe('detecting a machine crash under an open database (SQLite)', () => {
  it('flags a marker left by an earlier boot, clears it once handled, and ignores this boot’s markers', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'plaza.db');
    // A process of another boot left its marker: the machine went down under it.
    writeFileSync(`${file}.open-999999`, 'another-boot-id');
    const first = await sqlite(file);
    expect(first.lostUnsyncedCommits).toBe(true);
    first.lossHandled();
    expect(first.lostUnsyncedCommits).toBe(false);
    const markers = () => readdirSync(dir).filter((n) => n.includes('.open-'));
    expect(markers()).toHaveLength(1);
    expect(markers()[0]).toMatch(new RegExp(`^plaza\\.db\\.open-${process.pid}-[0-9a-f]{12}$`));
    await first.close();
    open.splice(open.indexOf(first), 1);
    // A clean close removes its own marker.
    expect(markers()).toEqual([]);

    // An earlier boot's marker with this very pid (containers: always PID 1) is stale, not ours.
    writeFileSync(`${file}.open-${process.pid}`, 'another-boot-id');
    const again = await sqlite(file);
    expect(again.lostUnsyncedCommits).toBe(true);
    again.lossHandled();
    expect(markers()).toHaveLength(1);
    expect(markers()[0]).not.toBe(`plaza.db.open-${process.pid}`);
    await again.close();
    open.splice(open.indexOf(again), 1);

    // A process that could not sync says so in its marker, whatever the boot.
    writeFileSync(`${file}.open-999997-aaaaaaaaaaaa`, 'sync-failed');
    const third = await sqlite(file);
    expect(third.lostUnsyncedCommits).toBe(true);
    third.lossHandled();
    await third.close();
    open.splice(open.indexOf(third), 1);

    // A process of this boot that died: its commits are in the page cache, nothing was lost.
    if (bootId()) {
      writeFileSync(`${file}.open-999998`, bootId() as string);
      const second = await sqlite(file);
      expect(second.lostUnsyncedCommits).toBe(false);
      expect(readdirSync(dir).filter((n) => n.includes('999998'))).toEqual([]);
    }
  });
});
