import { describe, expect, it } from "vitest";
import { isSubscription } from "./fetcher";

describe("isSubscription", () => {
  it("reads the operation from the text sent, by name when there are several", () => {
    expect(isSubscription("subscription { rows: f { a } }")).toBe(true);
    expect(isSubscription("query Q { a }")).toBe(false);
    const doc = "query Q { a } subscription S { a }";
    expect(isSubscription(doc, "S")).toBe(true);
    expect(isSubscription(doc, "Q")).toBe(false);
    expect(isSubscription(doc)).toBe(false); // ambiguous: the server will say so
  });

  it("sends text that does not parse over HTTP", () => {
    expect(isSubscription("subscription {")).toBe(false);
  });
});
