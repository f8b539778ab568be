// The query of SPEC section 1, which the console opens with.

/** SPEC section 1's query, verbatim (spec.graphql, which web.go embeds too). */
export { default as specQuery } from "./spec.graphql?raw";

/** SPEC section 1's variables, used when the server injects none. */
export const specVariables: Record<string, unknown> = {
  deskIds: "{d2be0283-9b53-4d7b-b77d-2650f3a1a99c}",
  startDate: "2024-01-08",
  endDate: "2024-01-17",
  intervalInDays: "1 day",
};
