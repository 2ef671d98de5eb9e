/** The console API's shapes (src/ops/console/console.routes.ts). */
export type Cell = string | number | boolean | null;

// The server's own shapes, as types only (web/ imports nothing else from src/).
export type { ChartSettings, ConsoleResult as QueryResult, SavedQuery } from '../../../src/ops/console/console.service.js';

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
