// The dashboard's two questions to the API: the counts per interval
// (open_closed_sessions_interval_counts_v2, as query and as subscription)
// and the values present in the data (session_dimension_counts).
import { filterArgs, type DashboardState, type FilterArg } from "./state";
import { addInterval, toAPITime } from "./time";

const countsSelection = `(
    args: {
      start_time: $start, end_time: $end, interval_span: $interval, time_zone: $timeZone,
      desk_ids: $desks, brain_parent_ids: $brains, brain_versions: $versions,
      integration_ids: $integrations, channels: $channels, agent_ids: $agents, is_test: $isTest
    }
  ) { per_interval open_sessions closed_sessions open_at_end closed_in_interval }`;

const countsVariables = `$start: timestamp, $end: timestamp, $interval: interval, $timeZone: String,
  $desks: _uuid, $brains: _uuid, $versions: _int4, $integrations: _uuid,
  $channels: _text, $agents: _text, $isTest: Boolean`;

/** The counts per interval, over HTTP. */
export const countsQuery = `query DashboardCounts(${countsVariables}) {
  rows: open_closed_sessions_interval_counts_v2${countsSelection}
}`;

/** The same counts as a live query. */
export const countsSubscription = `subscription DashboardCounts(${countsVariables}) {
  rows: open_closed_sessions_interval_counts_v2${countsSelection}
}`;

/** The values each filter can take in the range, with their session counts. */
export const dimensionsQuery = `query DashboardDimensions($start: timestamp, $end: timestamp, $timeZone: String) {
  values: session_dimension_counts(args: {start_time: $start, end_time: $end, time_zone: $timeZone}) {
    dimension value sessions
  }
}`;

/** One bucket, as the API answers it. */
export interface CountsRow {
  per_interval: string;
  open_sessions: number;
  closed_sessions: number;
  open_at_end: number;
  closed_in_interval: number;
}

/** One value of one dimension. */
export interface DimensionCount {
  dimension: string;
  value: string;
  sessions: number;
}

/**
 * pgArray writes values as a PostgreSQL array literal with every element
 * quoted, so commas, braces, quotes, backslashes, spaces and the word NULL
 * inside a value stay part of it.
 */
export function pgArray(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replace(/[\\"]/g, (c) => `\\${c}`)}"`).join(",")}}`;
}

const variableOf: Record<FilterArg, string> = {
  desk_ids: "desks",
  brain_parent_ids: "brains",
  brain_versions: "versions",
  integration_ids: "integrations",
  channels: "channels",
  agent_ids: "agents",
};

/** countsVariablesOf gives the variables of countsQuery; unset filters are left out. */
export function countsVariablesOf(s: DashboardState): Record<string, unknown> {
  const v: Record<string, unknown> = {
    start: toAPITime(s.start),
    end: toAPITime(s.end),
    interval: s.interval,
    timeZone: s.timeZone,
  };
  for (const arg of filterArgs) if (s.filters[arg].length) v[variableOf[arg]] = pgArray(s.filters[arg]);
  if (s.test !== "all") v.isTest = s.test === "test";
  return v;
}

/**
 * dimensionsVariablesOf gives the variables of dimensionsQuery: the
 * sessions that start in the counts' intervals. session_dimension_counts
 * excludes its end_time, while the counts' last interval starts at end, so
 * the values' range ends one interval after it (at end itself when the
 * interval is spelt in a way addInterval does not read).
 */
export function dimensionsVariablesOf(s: DashboardState): Record<string, unknown> {
  return { start: toAPITime(s.start), end: toAPITime(addInterval(s.end, s.interval) ?? s.end), timeZone: s.timeZone };
}

/** The session_dimension_counts dimension behind each filter. */
export const dimensionOf: Record<FilterArg, string> = {
  desk_ids: "desk_id",
  brain_parent_ids: "brain_parent_id",
  brain_versions: "brain_version",
  integration_ids: "integration_id",
  channels: "channel",
  agent_ids: "agent_id",
};
