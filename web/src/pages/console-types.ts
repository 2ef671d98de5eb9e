/** The console API's shapes (src/ops/console/console.routes.ts). */
export type Cell = string | number | boolean | null;

export interface QueryResult {
  columns: string[];
  rows: Cell[][];
  truncated: boolean;
  changes: number | null;
  durationMs: number;
  mode: 'read' | 'write';
}

export interface ChartSettings {
  type: 'bar' | 'line' | 'pie';
  x: string;
  y: string[];
}

export interface SavedQuery {
  id: string;
  name: string;
  sql: string;
  chart: ChartSettings | null;
  createdAt: number;
  updatedAt: number;
}

export interface HistoryEntry {
  id: number;
  at: number;
  outcome: 'success' | 'failure';
  sql?: string;
  mode?: string;
  rows?: number;
  durationMs?: number;
  code?: string;
  export?: string;
}

export interface TableSummary {
  name: string;
  rowCount: number;
}

export interface TableDetail {
  name: string;
  rowCount: number;
  columns: { name: string; type: string; nullable: boolean; primaryKey: boolean; default: string | null }[];
  indexes: { name: string; unique: boolean; definition: string | null }[];
  sample: { columns: string[]; rows: Cell[][] };
}
