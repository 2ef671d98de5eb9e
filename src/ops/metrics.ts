import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Clock } from '../shared/clock.js';

export interface MetricsSources {
  clock: Clock;
  /** When the newest backup in data/backups was taken (ISO), if any. */
  lastBackupAt(): Promise<string | undefined>;
  /** Open chat connections on this instance (every transport). */
  chatConnections(): number;
  /** Chat messages stored and delivered since start. */
  chatCounts(): { messages: number; deliveries: number };
  /** Whether the database is reachable (false while PostgreSQL is known down). */
  databaseUp(): boolean;
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * Prometheus metrics (prom-client) in a registry of this instance's own (no global state):
 * Node's process and event-loop metrics, HTTP requests by route and status with durations and
 * body bytes, database query durations and errors, open connections, and the newest backup's age. Served at /metrics only with PLAZA_METRICS_TOKEN.
 */
export function createMetrics(sources: MetricsSources) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'plaza_', eventLoopMonitoringPrecision: 20 });
  const requests = new Counter({
    name: 'plaza_http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const durations = new Histogram({
    name: 'plaza_http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by method and route pattern',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  });
  new Gauge({
    name: 'plaza_chat_connections',
    help: 'Open chat connections on this instance (native, seed 003 and seed 004 together)',
    registers: [registry],
    collect() {
      this.set(sources.chatConnections());
    },
  });
  const chatCounter = (name: string, help: string, pick: (c: { messages: number; deliveries: number }) => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(pick(sources.chatCounts()));
      },
    });
  chatCounter('plaza_chat_messages_total', 'Chat messages stored (every transport; resends not counted)', (c) => c.messages);
  chatCounter('plaza_chat_deliveries_total', 'Chat messages handed to live connections on this instance', (c) => c.deliveries);
  const queries = new Histogram({
    name: 'plaza_db_query_duration_seconds',
    help: 'Database query durations',
    buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [registry],
  });
  new Gauge({
    name: 'plaza_db_up',
    help: '1 while the database is reachable, 0 while it is known down (degraded mode: requests that need it get 503 at once)',
    registers: [registry],
    collect() {
      this.set(sources.databaseUp() ? 1 : 0);
    },
  });
  const queryErrors = new Counter({ name: 'plaza_db_query_errors_total', help: 'Database queries that failed', registers: [registry] });
  const bytes = new Counter({
    name: 'plaza_http_body_bytes_total',
    help: 'Body bytes by direction and route pattern, as they crossed the wire (chunked, tus PATCH streams, ranges and aborted transfers included; uploads: in on /api/files*, /upload, tus; downloads: out on */content, /download/*, /s/:token)',
    labelNames: ['direction', 'route'] as const,
    registers: [registry],
  });
  // The raw TCP doors exist only once serve started them: each tells how to count its connections.
  const tcpDoors = new Map<string, () => number>();
  new Gauge({
    name: 'plaza_tcp_connections',
    help: 'Open connections on the raw TCP front doors, by door (seed001: PLAZA_NETCLASS_PORT, seed003: PLAZA_TCPCHAT_PORT)',
    labelNames: ['door'] as const,
    registers: [registry],
    collect() {
      for (const [door, count] of tcpDoors) this.set({ door }, count());
    },
  });
  // The HTTP server exists only once the transport is built: it tells how to count (server.ts).
  let httpConnections: (() => Promise<number>) | undefined;
  new Gauge({
    name: 'plaza_http_connections',
    help: 'Open connections on the HTTP port (WebSockets included)',
    registers: [registry],
    async collect() {
      if (httpConnections) this.set(await httpConnections());
    },
  });
  new Gauge({
    name: 'plaza_backup_age_seconds',
    help: 'Seconds since the newest backup in data/backups was taken (absent: none yet)',
    registers: [registry],
    async collect() {
      this.reset();
      const at = await sources.lastBackupAt().catch(() => undefined);
      if (at) this.set(Math.max(0, (sources.clock.now() - Date.parse(at)) / 1000));
    },
  });

  return {
    contentType: registry.contentType,
    /** One answered request; `route` is the matched pattern (never the raw URL: bounded labels). */
    observe(method: string, route: string, status: number, seconds: number) {
      requests.inc({ method, route, status: String(status) });
      durations.observe({ method, route }, seconds);
    },
    /** A request's body bytes, in and out, once its connection is done with it (http/body-bytes.ts). */
    observeBytes(route: string, bytesIn: number, bytesOut: number) {
      if (bytesIn > 0) bytes.inc({ direction: 'in', route }, bytesIn);
      if (bytesOut > 0) bytes.inc({ direction: 'out', route }, bytesOut);
    },
    /** A database query (Database.observeQueries). */
    observeQuery(durationMs: number, failed: boolean) {
      queries.observe(durationMs / 1000);
      if (failed) queryErrors.inc();
    },
    render: () => registry.metrics(),
    countHttpConnectionsWith(fn: () => Promise<number>) {
      httpConnections = fn;
    },
    countTcpConnectionsWith(door: 'seed001' | 'seed003', fn: () => number) {
      tcpDoors.set(door, fn);
    },
  };
}
