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

/** firstOfMonth moves a YYYY-MM-DD date to the first of the month `months` later. */
export function firstOfMonth(date: string, months: number): string {
  const [y, m] = date.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1 + months, 1)).toISOString().slice(0, 10);
}

/**
 * A ready-made range: start, end and interval together. As in the API,
 * end is the start of the last interval (generate_series includes it), so
 * "the last 7 days" ends at today's midnight and today's interval covers
 * the whole of today.
 */
export interface RangePreset {
  id: string;
  label: string;
  range(tz: string, now?: Date): { start: WallTime; end: WallTime; interval: string };
}

const midnight = (date: string): WallTime => `${date}T00:00`;

/** lastDays is n intervals of one day, the last one today. */
const lastDays = (n: number) => (tz: string, now?: Date) => ({ start: midnight(addDays(today(tz, now), 1 - n)), end: midnight(today(tz, now)), interval: "1 day" });

/** rangePresets are the quick choices, each with today in its last interval. */
export const rangePresets: RangePreset[] = [
  { id: "today", label: "Today, hourly", range: (tz, now) => ({ start: midnight(today(tz, now)), end: `${today(tz, now)}T23:00`, interval: "1 hour" }) },
  { id: "7d", label: "Last 7 days", range: lastDays(7) },
  { id: "14d", label: "Last 14 days", range: lastDays(14) },
  { id: "30d", label: "Last 30 days", range: lastDays(30) },
  { id: "13w", label: "Last 13 weeks", range: (tz, now) => ({ start: midnight(addDays(today(tz, now), -7 * 13 + 1)), end: midnight(today(tz, now)), interval: "1 week" }) },
  { id: "12m", label: "Last 12 months", range: (tz, now) => ({ start: midnight(firstOfMonth(today(tz, now), -11)), end: midnight(firstOfMonth(today(tz, now), 0)), interval: "1 mon" }) },
];

const intervalUnits: Record<string, [months: number, micros: number]> = {
  year: [12, 0],
  mon: [1, 0],
  month: [1, 0],
  week: [0, 7 * 86400e6],
  day: [0, 86400e6],
  hour: [0, 3600e6],
  minute: [0, 60e6],
  min: [0, 60e6],
  second: [0, 1e6],
  sec: [0, 1e6],
};

/**
 * addInterval adds an interval to a wall time as PostgreSQL's timestamp +
 * interval does (months first, clamped to the month's last day, then the
 * rest), for intervals written as quantities with units ("1 day", "6
 * hours", "1 mon", "2 weeks 3 days"). It returns undefined for other
 * spellings ("@ 1 day", "P1D", "01:00:00"), which callers treat as unknown.
 */
export function addInterval(t: WallTime, interval: string): WallTime | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(t);
  const words = interval.trim().toLowerCase().split(/\s+/);
  if (!m || words.length % 2 !== 0) return undefined;
  let months = 0;
  let micros = 0;
  for (let i = 0; i < words.length; i += 2) {
    const n = Number(words[i]);
    const unit = intervalUnits[words[i + 1].replace(/s$/, "")];
    if (!Number.isFinite(n) || !unit || (unit[0] && !Number.isInteger(n))) return undefined;
    months += n * unit[0];
    micros += n * unit[1];
  }
  const [y, mo, d, h, mi, sec = "0"] = m.slice(1).map((v) => v ?? "0");
  const total = +y * 12 + (+mo - 1) + months;
  const year = Math.floor(total / 12);
  const month = total - year * 12;
  const day = Math.min(+d, new Date(Date.UTC(year, month + 1, 0)).getUTCDate());
  const at = new Date(Date.UTC(year, month, day, +h, +mi, +sec) + micros / 1000);
  if (Number.isNaN(at.getTime())) return undefined;
  const iso = at.toISOString();
  return `${iso.slice(0, 16)}${iso.slice(17, 19) === "00" ? "" : iso.slice(16, 19)}`;
}

/** intervalChoices are offered in the interval picker; any other value typed in a link is kept. */
export const intervalChoices = ["15 minutes", "1 hour", "6 hours", "1 day", "1 week", "1 mon"];
