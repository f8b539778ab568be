// Wall-clock dates and times in a named zone, as the API takes them: the
// dashboard never converts between zones itself; it asks for wall times in
// the chosen zone and lets the server apply the zone's rules.

/** A wall-clock minute in the form of <input type="datetime-local">. */
export type WallTime = string; // "YYYY-MM-DDTHH:MM" or "YYYY-MM-DDTHH:MM:SS"

const wallTimeRE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?$/;

/**
 * normalizeWallTime accepts YYYY-MM-DD, YYYY-MM-DD HH:MM[:SS] and the same
 * with T, and returns the datetime-local form (seconds only when not zero),
 * or undefined for anything else, including impossible dates.
 */
export function normalizeWallTime(s: string): WallTime | undefined {
  const m = wallTimeRE.exec(s.trim());
  if (!m) return undefined;
  const [, y, mo, d, h = "00", mi = "00", sec = "00"] = m;
  const t = new Date(Date.UTC(+y, +mo - 1, +d, +h, +mi, +sec));
  if (t.getUTCFullYear() !== +y || t.getUTCMonth() !== +mo - 1 || t.getUTCDate() !== +d || +h > 23 || +mi > 59 || +sec > 59) {
    return undefined;
  }
  return `${y}-${mo}-${d}T${h}:${mi}${sec === "00" ? "" : `:${sec}`}`;
}

/** toAPITime writes a wall time as the API's timestamp literal, "YYYY-MM-DD HH:MM[:SS]". */
export function toAPITime(t: WallTime): string {
  return t.replace("T", " ");
}

/** isTimeZone tells whether this browser knows the IANA zone name. */
export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return tz !== "";
  } catch {
    return false;
  }
}

/** browserTimeZone is the zone the browser runs in, or UTC. */
export function browserTimeZone(): string {
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return tz && isTimeZone(tz) ? tz : "UTC";
}

/** timeZones lists the zones to offer: UTC, then the browser's IANA names. */
export function timeZones(): string[] {
  const names = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  return ["UTC", ...names.filter((n) => n !== "UTC")];
}

/** today is the calendar date now in the zone, as YYYY-MM-DD. */
export function today(tz: string, now: Date = new Date()): string {
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" }).formatToParts(now);
  const get = (t: string) => parts.find((p) => p.type === t)!.value;
  return `${get("year")}-${get("month")}-${get("day")}`;
}

/** addDays moves a YYYY-MM-DD date by whole calendar days. */
export function addDays(date: string, days: number): string {
  const [y, m, d] = date.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

/** addMonths moves a YYYY-MM-DD date to the first of the month `months` later. */
export function firstOfMonth(date: string, months: number): string {
  const [y, m] = date.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1 + months, 1)).toISOString().slice(0, 10);
}

/** A ready-made range: start, end and interval together. */
export interface RangePreset {
  id: string;
  label: string;
  range(tz: string, now?: Date): { start: WallTime; end: WallTime; interval: string };
}

const midnight = (date: string): WallTime => `${date}T00:00`;

/** rangePresets are the quick choices, each ending at the end of today. */
export const rangePresets: RangePreset[] = [
  { id: "today", label: "Today, hourly", range: (tz, now) => ({ start: midnight(today(tz, now)), end: midnight(addDays(today(tz, now), 1)), interval: "1 hour" }) },
  { id: "7d", label: "Last 7 days", range: (tz, now) => ({ start: midnight(addDays(today(tz, now), -6)), end: midnight(addDays(today(tz, now), 1)), interval: "1 day" }) },
  { id: "14d", label: "Last 14 days", range: (tz, now) => ({ start: midnight(addDays(today(tz, now), -13)), end: midnight(addDays(today(tz, now), 1)), interval: "1 day" }) },
  { id: "30d", label: "Last 30 days", range: (tz, now) => ({ start: midnight(addDays(today(tz, now), -29)), end: midnight(addDays(today(tz, now), 1)), interval: "1 day" }) },
  { id: "13w", label: "Last 13 weeks", range: (tz, now) => ({ start: midnight(addDays(today(tz, now), -7 * 13 + 1)), end: midnight(addDays(today(tz, now), 1)), interval: "1 week" }) },
  { id: "12m", label: "Last 12 months", range: (tz, now) => ({ start: midnight(firstOfMonth(today(tz, now), -11)), end: midnight(firstOfMonth(today(tz, now), 1)), interval: "1 mon" }) },
];

/** intervalChoices are offered in the interval picker; any other value typed in a link is kept. */
export const intervalChoices = ["15 minutes", "1 hour", "6 hours", "1 day", "1 week", "1 mon"];
