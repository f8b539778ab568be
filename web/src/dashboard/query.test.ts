import { describe, expect, it } from "vitest";
import { countsVariablesOf, pgArray } from "./query";
import { emptyFilters, type DashboardState } from "./state";

describe("variables", () => {
  it("quotes every array element so separators and NULL stay text", () => {
    expect(pgArray(["a,b", 'say "hi"', "back\\slash", "NULL", "{x}", ""])).toBe('{"a,b","say \\"hi\\"","back\\\\slash","NULL","{x}",""}');
    expect(pgArray([])).toBe("{}");
  });

  it("sends wall times in the chosen zone and leaves unset filters out", () => {
    const s: DashboardState = {
      account: "",
      start: "2024-03-31T00:00",
      end: "2024-04-01T00:00",
      interval: "1 hour",
      timeZone: "Europe/Athens",
      filters: { ...emptyFilters(), brain_versions: ["3"] },
      test: "production",
      live: true,
    };
    expect(countsVariablesOf(s)).toEqual({
      start: "2024-03-31 00:00",
      end: "2024-04-01 00:00",
      interval: "1 hour",
      timeZone: "Europe/Athens",
      versions: '{"3"}',
      isTest: false,
    });
  });
});
