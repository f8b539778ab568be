// The table's columns and the CSV built from them: one definition, so the
// download has exactly the table's columns, in its order, and its rows.
import type { CountsRow } from "./query";

/** A column of the table and of the CSV. */
export interface Column {
  /** The API's column name: the CSV header and the row key. */
  key: keyof CountsRow;
  /** What the table's header says. */
  label: string;
  numeric: boolean;
}

/** The table's columns, in the REST endpoint's CSV order. */
export const columns: Column[] = [
  { key: "per_interval", label: "Interval start", numeric: false },
  { key: "open_sessions", label: "Open", numeric: true },
  { key: "closed_sessions", label: "Closed", numeric: true },
  { key: "open_at_end", label: "Backlog at end", numeric: true },
  { key: "closed_in_interval", label: "Closed in interval", numeric: true },
];

/** cellText is what a cell shows and what the CSV holds: the API's value as text; null is empty. */
export function cellText(row: CountsRow, col: Column): string {
  const v = row[col.key] as unknown;
  return v === null || v === undefined ? "" : String(v);
}

/**
 * csvField quotes a field when it holds a comma, a double quote, CR or LF,
 * doubling the quotes inside (RFC 4180).
 */
export function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * toCSV writes a header row of the column keys, then one line per row,
 * each line ended by \n (as Go's encoding/csv writes them).
 */
export function toCSV(rows: readonly CountsRow[], cols: readonly Column[] = columns): string {
  const line = (fields: string[]) => fields.map(csvField).join(",") + "\n";
  return line(cols.map((c) => c.key)) + rows.map((r) => line(cols.map((c) => cellText(r, c)))).join("");
}

/** csvFileName names the download after what it holds, with characters safe in file names. */
export function csvFileName(start: string, end: string, interval: string): string {
  const safe = (s: string) => s.replace(/[^0-9A-Za-z-]+/g, "-").replace(/^-|-$/g, "");
  return `tally-sessions_${safe(start)}_${safe(end)}_${safe(interval)}.csv`;
}
