// The dashboard's whole state, and its form in the URL's query string. The
// parameter names are the REST endpoint's (GET /api/rest/open-closed-sessions,
// SPEC 9.4), so a dashboard link and a REST call read the same way; array
// filters are repeated parameters.
import { browserTimeZone, isTimeZone, normalizeWallTime, rangePresets, type WallTime } from "./time";

/** The array filters of the function, by argument name, in display order. */
export const filterArgs = ["desk_ids", "brain_parent_ids", "brain_versions", "integration_ids", "channels", "agent_ids"] as const;
export type FilterArg = (typeof filterArgs)[number];

/** Which sessions count by their is_test flag. */
export type TestFilter = "all" | "production" | "test";

/** Everything the dashboard shows is decided by this. */
export interface DashboardState {
  /** X-Moveo-Account-Id; "" leaves it to the saved or injected default. */
  account: string;
  start: WallTime;
  end: WallTime;
  interval: string;
  timeZone: string;
  filters: Record<FilterArg, string[]>;
  test: TestFilter;
  /** False when the user paused live updates. */
  live: boolean;
}

/** emptyFilters has every filter unset. */
export function emptyFilters(): Record<FilterArg, string[]> {
  return Object.fromEntries(filterArgs.map((a) => [a, []])) as unknown as Record<FilterArg, string[]>;
}

/** defaultState: the last 14 days by day in the browser's zone, no filters. */
export function defaultState(now?: Date, timeZone: string = browserTimeZone()): DashboardState {
  const { start, end, interval } = rangePresets.find((p) => p.id === "14d")!.range(timeZone, now);
  return { account: "", start, end, interval, timeZone, filters: emptyFilters(), test: "all", live: true };
}

/** What parseState makes of a query string: the state, and what it ignored. */
export interface ParsedState {
  state: DashboardState;
  /** One sentence per parameter that was present but not usable. */
  ignored: string[];
}

/**
 * parseState reads a query string written by stateToSearch (or by hand).
 * Missing parameters take their value from `fallback`; unusable ones too,
 * and are listed in `ignored` so the page can say so. Unknown parameters
 * are left alone.
 */
export function parseState(search: string, fallback: DashboardState): ParsedState {
  const q = new URLSearchParams(search);
  const ignored: string[] = [];
  const state: DashboardState = { ...fallback, filters: { ...fallback.filters } };
  const one = (name: string) => q.get(name) ?? undefined;

  const account = one("account");
  if (account !== undefined) state.account = account.trim();

  const tz = one("time_zone");
  if (tz !== undefined) {
    if (isTimeZone(tz)) state.timeZone = tz;
    else ignored.push(`time_zone=${tz}: not a time zone this browser knows`);
  }
  for (const [name, key] of [["start_time", "start"], ["end_time", "end"]] as const) {
    const v = one(name);
    if (v === undefined) continue;
    const t = normalizeWallTime(v);
    if (t) state[key] = t;
    else ignored.push(`${name}=${v}: expected a date such as 2024-01-08 or 2024-01-08T10:00`);
  }
  const interval = one("interval_span");
  if (interval !== undefined) {
    if (interval.trim()) state.interval = interval.trim();
    else ignored.push("interval_span is empty");
  }
  for (const arg of filterArgs) {
    if (!q.has(arg)) continue;
    state.filters[arg] = unique(q.getAll(arg).filter((v) => v !== ""));
  }
  const isTest = one("is_test");
  if (isTest !== undefined) {
    if (isTest === "true") state.test = "test";
    else if (isTest === "false") state.test = "production";
    else ignored.push(`is_test=${isTest}: expected true or false`);
  }
  const live = one("live");
  if (live !== undefined) state.live = live !== "off";
  return { state, ignored };
}

/**
 * stateToSearch writes the state as a query string (without "?"), every
 * parameter that decides what is shown, in a fixed order.
 */
export function stateToSearch(s: DashboardState): string {
  const q = new URLSearchParams();
  if (s.account) q.set("account", s.account);
  q.set("start_time", s.start);
  q.set("end_time", s.end);
  q.set("interval_span", s.interval);
  q.set("time_zone", s.timeZone);
  for (const arg of filterArgs) for (const v of s.filters[arg]) q.append(arg, v);
  if (s.test !== "all") q.set("is_test", s.test === "test" ? "true" : "false");
  if (!s.live) q.set("live", "off");
  return q.toString();
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
