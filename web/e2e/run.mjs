// run.mjs runs one browser test by name and exits 0 when it passes, 1 when
// it fails (saying why), 2 for a name it does not know:
//
//   TALLY_URL=http://127.0.0.1:8080 TALLY_ACCOUNT=<uuid> node e2e/run.mjs console
//
// go test ./cmd/tally -run TestBrowser starts a demo server and runs each
// test through this, as a subtest, skipping those whose API the server
// lacks.
import assert from "node:assert/strict";
import { consoleRunsASubscription, consoleRunsTheSpecQuery } from "./console.mjs";
import {
  dashboardDownloadsWhatItShows,
  dashboardDrawsTheChart,
  dashboardFollowsAFilter,
  dashboardPickersListTheData,
  dashboardRestoresItsURL,
  dashboardShowsNewSessionsLive,
} from "./dashboard.mjs";
import { withPage } from "./harness.mjs";

// guardCatchesOutsideRequests proves the check every test relies on: a
// request to another host fails the page.
async function guardCatchesOutsideRequests() {
  const outside = "http://192.0.2.1/pixel.png"; // TEST-NET-1: never routed
  await assert.rejects(
    withPage(async (page) => {
      await page.goto("about:blank");
      await page.evaluate((u) => fetch(u).catch(() => {}), outside);
    }),
    (e) => e.message.includes("requests left the machine") && e.message.includes(outside),
  );
}

const tests = {
  guard: guardCatchesOutsideRequests,
  console: consoleRunsTheSpecQuery,
  "console-live": consoleRunsASubscription,
  "dashboard-chart": dashboardDrawsTheChart,
  "dashboard-filter": dashboardFollowsAFilter,
  "dashboard-pickers": dashboardPickersListTheData,
  "dashboard-url": dashboardRestoresItsURL,
  "dashboard-live": dashboardShowsNewSessionsLive,
  "dashboard-csv": dashboardDownloadsWhatItShows,
};

const name = process.argv[2];
const test = tests[name];
if (!test) {
  console.error(`usage: node e2e/run.mjs NAME; names: ${Object.keys(tests).join(", ")}`);
  process.exit(2);
}
try {
  await test();
  console.log(`${name}: ok`);
} catch (e) {
  console.error(`${name}: ${e.stack ?? e}`);
  process.exit(1);
}
