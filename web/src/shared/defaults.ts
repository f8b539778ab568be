// The start-up defaults the server injects into each page, as JSON inside
// <script id="tally-defaults" type="application/json"> (web.go's Page does
// the replacing). Every field is optional: a page built but served without
// injection (npm run dev) falls back to its own defaults.

/** What the server tells the pages at start-up. */
export interface Defaults {
  /** The account the pages start with (the demo account under tally demo). */
  accountId?: string;
  /** True when the server has an admin secret, so requests need credentials. */
  adminSecretRequired?: boolean;
  /** The console's first query; the SPEC query when absent. */
  query?: string;
  /** Variables for that query (SPEC section 1's, with the demo's desk and dates). */
  variables?: Record<string, unknown>;
}

/** The id of the script element that carries the defaults. */
export const defaultsElementId = "tally-defaults";

/**
 * readDefaults parses the injected defaults. A missing element, invalid JSON
 * or a value that is not an object gives {} and a console warning, never an
 * exception: the page still works with its own defaults.
 */
export function readDefaults(doc: Document = document): Defaults {
  const text = doc.getElementById(defaultsElementId)?.textContent?.trim();
  if (!text) return {};
  try {
    const value: unknown = JSON.parse(text);
    if (value && typeof value === "object" && !Array.isArray(value)) return value as Defaults;
    console.warn(`tally-defaults: expected a JSON object, got ${text.slice(0, 80)}`);
  } catch (e) {
    console.warn(`tally-defaults: ${(e as Error).message}`);
  }
  return {};
}
