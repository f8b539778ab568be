import { describe, expect, it } from "vitest";
import { addInterval, rangePresets } from "./time";

describe("ranges", () => {
  it("adds intervals as PostgreSQL's timestamp + interval", () => {
    expect(addInterval("2024-01-08T00:00", "1 day")).toBe("2024-01-09T00:00");
    expect(addInterval("2024-01-08T18:00", "6 hours")).toBe("2024-01-09T00:00");
    expect(addInterval("2024-01-08T00:00", "15 minutes")).toBe("2024-01-08T00:15");
    expect(addInterval("2024-01-08T00:00", "1 week")).toBe("2024-01-15T00:00");
    expect(addInterval("2024-01-31T10:00", "1 mon")).toBe("2024-02-29T10:00");
    expect(addInterval("2023-12-31T00:00", "2 months 1 day")).toBe("2024-03-01T00:00");
    expect(addInterval("2024-01-08T00:00:30", "30 seconds")).toBe("2024-01-08T00:01");
    expect(addInterval("2024-01-08T00:00", "1 year")).toBe("2025-01-08T00:00");
    // Spellings it does not read are left to the caller.
    expect(addInterval("2024-01-08T00:00", "P1D")).toBeUndefined();
    expect(addInterval("2024-01-08T00:00", "1.5 mon")).toBeUndefined();
    expect(addInterval("2024-01-08T00:00", "1 fortnight")).toBeUndefined();
  });

  it("ends every preset with today in its last interval", () => {
    const now = new Date("2024-03-15T12:00:00Z");
    const got = Object.fromEntries(rangePresets.map((p) => [p.id, p.range("UTC", now)]));
    expect(got.today).toEqual({ start: "2024-03-15T00:00", end: "2024-03-15T23:00", interval: "1 hour" });
    expect(got["7d"]).toEqual({ start: "2024-03-09T00:00", end: "2024-03-15T00:00", interval: "1 day" });
    expect(got["30d"].start).toBe("2024-02-15T00:00");
    expect(got["13w"]).toEqual({ start: "2023-12-16T00:00", end: "2024-03-15T00:00", interval: "1 week" });
    expect(got["12m"]).toEqual({ start: "2023-04-01T00:00", end: "2024-03-01T00:00", interval: "1 mon" });
  });
});
