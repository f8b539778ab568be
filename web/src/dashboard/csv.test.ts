import { describe, expect, it } from "vitest";
import { columns, csvFileName, toCSV } from "./csv";
import type { CountsRow } from "./query";

const rows: CountsRow[] = [
  { per_interval: "2024-01-08T00:00:00", open_sessions: 13, closed_sessions: 1000, open_at_end: 40, closed_in_interval: 998 },
  { per_interval: "2024-01-09T00:00:00.5", open_sessions: 0, closed_sessions: 7, open_at_end: 0, closed_in_interval: 47 },
];

describe("CSV", () => {
  it("has the table's columns in the table's order, the API's values verbatim", () => {
    expect(columns.map((c) => c.key)).toEqual(["per_interval", "open_sessions", "closed_sessions", "open_at_end", "closed_in_interval"]);
    expect(toCSV(rows)).toBe(
      "per_interval,open_sessions,closed_sessions,open_at_end,closed_in_interval\n" +
        "2024-01-08T00:00:00,13,1000,40,998\n" +
        "2024-01-09T00:00:00.5,0,7,0,47\n",
    );
  });

  it("quotes fields with commas, quotes and line breaks, and leaves nulls empty", () => {
    const odd = [{ per_interval: 'a,"b"\nc', open_sessions: null, closed_sessions: 1, open_at_end: 2, closed_in_interval: 3 }] as unknown as CountsRow[];
    expect(toCSV(odd).split("\n").slice(1).join("\n")).toBe('"a,""b""\nc",,1,2,3\n');
  });

  it("has only a header when there are no rows", () => {
    expect(toCSV([])).toBe("per_interval,open_sessions,closed_sessions,open_at_end,closed_in_interval\n");
  });

  it("names the file after the range", () => {
    expect(csvFileName("2024-01-08T00:00", "2024-01-17T00:00", "1 day")).toBe("tally-sessions_2024-01-08T00-00_2024-01-17T00-00_1-day.csv");
  });
});
