import { randomBytes } from 'node:crypto';
import type { ChatBus } from '../chat/bus.js';
import type { Database } from '../db/connect.js';
import { clusterId, markUploads, uploadsMarked } from './cluster.repository.js';
import { type ClusterSignals, createRedisBus } from './redis-bus.js';
import { connectRedis, type RedisLink, type RedisLogger } from './redis-link.js';
import { createSharedTickets, type SharedTickets } from './shared-tickets.js';
import type { MarkRecord } from './uploads-marker.js';

/** What an instance shares with the others through Redis (PLAZA_REDIS_URL). */
export interface Cluster {
  id: string;
  instanceId: string;
  link: RedisLink;
  bus: ChatBus;
  signals: ClusterSignals;
  tickets: SharedTickets;
  /** Whether the shared uploads directory has been marked (uploads-marker.ts). */
  uploadsRecord: MarkRecord;
  /**
   * Runs `job` unless another instance holds its lock (taken for `holdMs`, so a job that runs once
   * an hour or a day runs on one instance per slot). Resolves whether it ran here. While Redis is
   * away every instance runs it (each job is safe to run twice; none must be skipped).
   */
  once(name: string, holdMs: number, job: () => Promise<void>): Promise<boolean>;
  close(): Promise<void>;
}

/** One JSON line on stderr, in the shape of the server's logs (core has no logger of its own). */
const stderrLogger: RedisLogger = {
  warn: (obj, msg) => process.stderr.write(`${JSON.stringify({ level: 40, time: Date.now(), msg, ...obj })}\n`),
  info: (obj, msg) => process.stderr.write(`${JSON.stringify({ level: 30, time: Date.now(), msg, ...obj })}\n`),
};

export async function joinCluster(url: string, database: Database, log: RedisLogger = stderrLogger): Promise<Cluster> {
  const id = await clusterId(database.db);
  const instanceId = randomBytes(8).toString('base64url');
  const link = await connectRedis(url, id, log);
  const { bus, signals } = createRedisBus(link, instanceId);
  return {
    id,
    instanceId,
    link,
    bus,
    signals,
    tickets: createSharedTickets(link),
    uploadsRecord: { marked: () => uploadsMarked(database.db, id), mark: () => markUploads(database.db, id, Date.now()) },
    async once(name, holdMs, job) {
      const got = await link.cmd.set(`${link.prefix}lock:${name}`, instanceId, 'PX', holdMs, 'NX').then((r) => r === 'OK', () => true);
      if (got) await job();
      return got;
    },
    async close() {
      await bus.close();
      await link.close();
    },
  };
}
