import { describe, expect, it } from "vitest";
import { defaultState, emptyFilters, parseState, stateToSearch, type DashboardState } from "./state";

const base: DashboardState = {
  account: "",
  start: "2024-01-08T00:00",
  end: "2024-01-17T00:00",
  interval: "1 day",
  timeZone: "UTC",
  filters: emptyFilters(),
  test: "all",
  live: true,
};

describe("URL state", () => {
  it("round-trips every field, including values that need escaping", () => {
    const s: DashboardState = {
      account: "52fdfc07-2182-454f-963f-5f0f9a621d72",
      start: "2024-03-31T01:30",
      end: "2024-04-01T00:00:15",
      interval: "1 day 02:00:00",
      timeZone: "Europe/Athens",
      filters: {
        ...emptyFilters(),
        desk_ids: ["d2be0283-9b53-4d7b-b77d-2650f3a1a99c", "9566c74d-1003-4c4d-bbbb-0407d1e2c649"],
        brain_versions: ["3", "12"],
        channels: ["web chat", "a,b", "x&y=z", "plus+sign", "ελληνικά", '"quoted"'],
        agent_ids: ["agent #1"],
      },
      test: "production",
      live: false,
    };
    const search = stateToSearch(s);
    const back = parseState(search, base);
    expect(back.ignored).toEqual([]);
    expect(back.state).toEqual(s);
    // Survives a trip through a real URL, as a reload does.
    const url = new URL(`http://127.0.0.1/dashboard?${search}`);
    expect(parseState(url.search, base).state).toEqual(s);
  });

  it("writes the REST endpoint's parameter names, arrays as repeated parameters", () => {
    const s = { ...base, filters: { ...emptyFilters(), desk_ids: ["a", "b"] }, test: "test" as const };
    expect(stateToSearch(s)).toBe(
      "start_time=2024-01-08T00%3A00&end_time=2024-01-17T00%3A00&interval_span=1+day&time_zone=UTC&desk_ids=a&desk_ids=b&is_test=true",
    );
  });

  it("takes what is missing from the fallback and names what it cannot use", () => {
    const { state, ignored } = parseState("?start_time=2024-02-30&time_zone=Mars/Olympus&is_test=maybe&end_time=2024-01-20&interval_span=1+week", base);
    expect(state).toEqual({ ...base, end: "2024-01-20T00:00", interval: "1 week" });
    expect(ignored).toHaveLength(3);
    expect(ignored.join("\n")).toMatch(/start_time=2024-02-30/);
    expect(ignored.join("\n")).toMatch(/time_zone=Mars\/Olympus/);
    expect(ignored.join("\n")).toMatch(/is_test=maybe/);
  });

  it("accepts the API's timestamp spellings and drops repeated filter values", () => {
    const { state } = parseState("start_time=2024-01-08+10:00:00&end_time=2024-01-09T10:00&channels=web&channels=web&channels=", base);
    expect(state.start).toBe("2024-01-08T10:00");
    expect(state.end).toBe("2024-01-09T10:00");
    expect(state.filters.channels).toEqual(["web"]);
  });

  it("defaults to the last 14 days by day, the last one today in the zone", () => {
    // 02:00 UTC on 1 January is still 31 December in New York. The API's
    // end_time is the last interval's start: 14 days from 18 to 31 December.
    const now = new Date("2024-01-01T02:00:00Z");
    expect(defaultState(now, "America/New_York")).toMatchObject({ start: "2023-12-18T00:00", end: "2023-12-31T00:00", interval: "1 day" });
    expect(defaultState(now, "Asia/Kolkata")).toMatchObject({ start: "2023-12-19T00:00", end: "2024-01-01T00:00" });
  });
});
