// The dashboard in a real browser against a demo server: what it shows is
// what the API answers for the state in its URL (the REST endpoint takes
// the same parameters), its chart has ink, filters and links change and
// restore it, new sessions appear without a reload, and the CSV it
// downloads is the GraphQL answer.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { config, countColour, graphql, ingest, parseCSV, pngPixels, rest, restParams, until, withPage } from "./harness.mjs";

/** The table's columns, as the API names them, in the REST CSV's order. */
const columns = ["per_interval", "open_sessions", "closed_sessions", "open_at_end", "closed_in_interval"];

/** The chart's colours (src/dashboard/chart.ts). */
const colours = { closed: "#9aa6b8", open: "#2458d6", backlog: "#d9661f" };

/** ready waits until the dashboard shows an answer, failing with its error. */
async function ready(page) {
  const dash = page.locator("#dash");
  await until("the dashboard to show counts", async () => {
    const state = await dash.getAttribute("data-state");
    if (state === "error") throw new Error(`the dashboard shows an error: ${await page.locator("#error").innerText()}`);
    return state === "ready";
  });
}

/** tableRows reads the table as the API's rows, every value as text. */
async function tableRows(page) {
  const cells = await page.locator('[data-testid="table-row"]').evaluateAll((trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent)));
  return cells.map((r) => Object.fromEntries(columns.map((c, i) => [c, r[i]])));
}

/** asText gives an API row's values as the table and the CSV write them. */
function asText(row) {
  return Object.fromEntries(columns.map((c) => [c, row[c] === null ? "" : String(row[c])]));
}

/** restRows is the REST answer for the page's current state. */
async function restRows(page) {
  const body = JSON.parse(await rest(restParams(page.url())));
  return body.open_closed_sessions_interval_counts_v2.map(asText);
}

/** showsTheAPI waits until the table is what REST answers for the page's URL, and returns it. */
async function showsTheAPI(page, what) {
  let last;
  await until(`${what}: the table to equal the REST answer for ${page.url()}`, async () => {
    const [shown, want] = [await tableRows(page), await restRows(page)];
    last = { shown, want };
    return shown.length > 0 && JSON.stringify(shown) === JSON.stringify(want);
  }).catch((e) => {
    throw new Error(`${e.message}\nshown: ${JSON.stringify(last?.shown)}\nREST:  ${JSON.stringify(last?.want)}`);
  });
  return last.shown;
}

/** ink counts the chart's pixels of each series' colour, from a screenshot. */
async function ink(page) {
  const png = pngPixels(await page.locator('[data-testid="chart"]').screenshot({ animations: "disabled" }));
  return { closed: countColour(png, colours.closed), open: countColour(png, colours.open), backlog: countColour(png, colours.backlog), png };
}

/** settled waits for the chart's animation to end: two screenshots alike. */
async function settledInk(page) {
  let prev = await ink(page);
  for (let i = 0; i < 20; i++) {
    await page.waitForTimeout(250);
    const next = await ink(page);
    if (next.png.rgba.equals(prev.png.rgba)) return next;
    prev = next;
  }
  return prev;
}

/** A wall-clock date in the browser's zone, days from today, as YYYY-MM-DD. */
function day(offset) {
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone: config.timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date());
  const [y, m, d] = parts.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d + offset)).toISOString().slice(0, 10);
}

export async function dashboardDrawsTheChart() {
  await withPage(async (page) => {
    await page.goto(`${config.base}/dashboard`);
    await ready(page);
    const shown = await showsTheAPI(page, "the default view");
    assert.equal(shown.length, 14, "the default view is the last 14 days by day");
    assert.ok(shown.some((r) => Number(r.closed_sessions) > 0), "the demo's last 14 days show no sessions");
    const url = new URL(page.url());
    assert.equal(url.searchParams.get("time_zone"), config.timeZone, "the default zone is the browser's");
    assert.equal(url.searchParams.get("interval_span"), "1 day");

    const { closed, open, backlog, png } = await settledInk(page);
    const area = png.width * png.height;
    assert.ok(closed > area / 100, `closed bars cover ${closed} of ${area} pixels`);
    assert.ok(backlog > 100, `the backlog line covers ${backlog} pixels`);
    console.log(`  chart ${png.width}×${png.height}: closed ${closed}, open ${open}, backlog ${backlog} pixels`);
    if (config.screenshots) {
      await page.locator("#kpis dd").first().waitFor();
      await page.screenshot({ path: join(config.screenshots, "dashboard.png"), fullPage: true });
    }
  });
}

export async function dashboardFollowsAFilter() {
  await withPage(async (page) => {
    await page.goto(`${config.base}/dashboard`);
    await ready(page);
    const before = await showsTheAPI(page, "all sessions");
    const inkBefore = await settledInk(page);
    await page.locator('[data-testid="picker-is_test"]').selectOption("test");
    await until("is_test=true in the URL", async () => new URL(page.url()).searchParams.get("is_test") === "true");
    const after = await showsTheAPI(page, "test sessions only");
    assert.notDeepEqual(after, before, "the numbers did not change with the filter");
    const inkAfter = await settledInk(page);
    assert.ok(inkAfter.closed < inkBefore.closed, `the closed bars did not shrink: ${inkBefore.closed} → ${inkAfter.closed} pixels`);
  });
}

export async function dashboardPickersListTheData() {
  await withPage(async (page) => {
    await page.goto(`${config.base}/dashboard`);
    await ready(page);
    const before = await showsTheAPI(page, "all desks");
    // The values of the sessions in the view's intervals: by day, its last
    // interval (end_time) ends a day later; session_dimension_counts
    // excludes its end_time.
    const url = new URL(page.url()).searchParams;
    assert.equal(url.get("interval_span"), "1 day");
    const end = new Date(`${url.get("end_time").slice(0, 10)}T00:00:00Z`);
    end.setUTCDate(end.getUTCDate() + 1);
    const { values } = await graphql(
      `query ($s: timestamp, $e: timestamp, $z: String) { values: session_dimension_counts(args: {start_time: $s, end_time: $e, time_zone: $z}) { dimension value sessions } }`,
      { s: url.get("start_time"), e: end.toISOString().slice(0, 10), z: url.get("time_zone") },
    );
    const desks = values.filter((v) => v.dimension === "desk_id");
    assert.ok(desks.length > 1, `the demo has ${desks.length} desks in the range`);

    const picker = page.locator('[data-testid="picker-desk_ids"]');
    await picker.locator("summary").click();
    const options = picker.locator('input[type="checkbox"]');
    await until("the desk picker to list the desks", async () => (await options.count()) === desks.length);
    const listed = await picker.locator("li").evaluateAll((lis) => lis.map((li) => [li.querySelector("input").value, li.querySelector(".picker-count").textContent]));
    assert.deepEqual(
      listed,
      desks.map((d) => [d.value, new Intl.NumberFormat("en-US").format(d.sessions)]),
      "the picker does not list session_dimension_counts' desks with their counts",
    );

    await options.first().check();
    await until("desk_ids in the URL", async () => new URL(page.url()).searchParams.getAll("desk_ids").join() === desks[0].value);
    const after = await showsTheAPI(page, "one desk");
    assert.notDeepEqual(after, before, "the numbers did not change with the desk filter");
  });
}

export async function dashboardRestoresItsURL() {
  await withPage(async (page) => {
    const start = day(-3);
    const end = day(-1);
    const link = new URLSearchParams({ start_time: start, end_time: end, interval_span: "6 hours", time_zone: "Asia/Kolkata", is_test: "false", live: "off" });
    link.append("channels", "web");
    link.append("channels", "whatsapp");
    await page.goto(`${config.base}/dashboard?${link}`);
    await ready(page);
    const check = async (what) => {
      assert.equal(await page.locator("#start").inputValue(), `${start}T00:00`, what);
      assert.equal(await page.locator("#end").inputValue(), `${end}T00:00`, what);
      assert.equal(await page.locator("#interval").inputValue(), "6 hours", what);
      assert.equal(await page.locator("#time-zone").inputValue(), "Asia/Kolkata", what);
      assert.equal(await page.locator("#is-test").inputValue(), "production", what);
      assert.equal(await page.locator("#picker-channels-value").textContent(), "2 selected", what);
      assert.equal(await page.locator('[data-testid="live-indicator"]').getAttribute("data-mode"), "paused", what);
      const url = new URL(page.url()).searchParams;
      assert.deepEqual(url.getAll("channels"), ["web", "whatsapp"], what);
      const rows = await showsTheAPI(page, what);
      assert.equal(rows.length, 9, `${what}: two days by 6 hours, and the interval that starts at end_time`);
      assert.equal(rows[0].per_interval, `${start}T00:00:00`, what);
      return rows;
    };
    const first = await check("the link");
    await page.reload();
    await ready(page);
    assert.deepEqual(await check("after a reload"), first);

    // A change is a new history entry; going back restores the link's view.
    await page.locator("#interval").selectOption("1 day");
    await until("interval_span=1 day in the URL", async () => new URL(page.url()).searchParams.get("interval_span") === "1 day");
    assert.equal((await showsTheAPI(page, "by day")).length, 3);
    await page.goBack();
    await until("the link's URL back", async () => new URL(page.url()).searchParams.get("interval_span") === "6 hours");
    assert.deepEqual(await check("after going back"), first);
  });
}

export async function dashboardShowsNewSessionsLive() {
  await withPage(async (page) => {
    await page.goto(`${config.base}/dashboard`);
    await ready(page);
    const indicator = page.locator('[data-testid="live-indicator"]');
    if (config.live) {
      await until("the live indicator to say Live", async () => (await indicator.getAttribute("data-mode")) === "live");
    } else {
      await until("the indicator to say Polling", async () => (await indicator.getAttribute("data-mode")) === "polling");
    }
    const before = await showsTheAPI(page, "before the batch");
    await page.evaluate(() => (window.__sameDocument = true));

    const now = new Date();
    const start = new Date(now.getTime() - 1000).toISOString().slice(0, 19); // UTC, as the API stores it
    const batch = [1, 2, 3].map((i) => ({ account_id: config.account, session_id: `browser-live-${now.getTime()}-${i}`, start_time: start, channel: "web" }));
    const answer = await ingest(batch);
    assert.equal(answer.accepted, 3);

    const open = (rows) => rows.reduce((n, r) => n + Number(r.open_sessions), 0);
    await until("the table to count three more open sessions", async () => {
      const rows = await tableRows(page);
      return rows.length === before.length && open(rows) === open(before) + 3;
    });
    await showsTheAPI(page, "after the batch");
    assert.equal(await page.evaluate(() => window.__sameDocument), true, "the page reloaded");
    const mode = await indicator.getAttribute("data-mode");
    if (config.live) assert.equal(mode, "live", "the update came by polling, not over the WebSocket");
    console.log(`  updated by ${mode}`);
  });
}

export async function dashboardDownloadsWhatItShows() {
  await withPage(async (page) => {
    const link = new URLSearchParams({ start_time: day(-9), end_time: `${day(-2)}T12:00`, interval_span: "12 hours", time_zone: "Europe/Athens" });
    link.append("channels", "web");
    link.append("channels", "whatsapp");
    await page.goto(`${config.base}/dashboard?${link}`);
    await ready(page);
    const shown = await showsTheAPI(page, "the CSV's view");

    const [download] = await Promise.all([page.waitForEvent("download"), page.locator('[data-testid="download-csv"]').click()]);
    const csv = await readFile(await download.path(), "utf8");
    const [header, ...records] = parseCSV(csv);
    assert.deepEqual(header, columns);

    // The same question asked in GraphQL, written here independently of the page.
    const q = new URL(page.url()).searchParams;
    const data = await graphql(
      `query ($s: timestamp!, $e: timestamp!, $i: interval, $z: String, $c: _text) {
        rows: open_closed_sessions_interval_counts_v2(args: {start_time: $s, end_time: $e, interval_span: $i, time_zone: $z, channels: $c}) {
          ${columns.join(" ")}
        }
      }`,
      { s: q.get("start_time"), e: q.get("end_time"), i: q.get("interval_span"), z: q.get("time_zone"), c: `{${q.getAll("channels").join(",")}}` },
    );
    const want = data.rows.map((r) => columns.map((c) => asText(r)[c]));
    assert.deepEqual(records, want, "the CSV is not the GraphQL answer");
    assert.deepEqual(records, shown.map((r) => columns.map((c) => r[c])), "the CSV is not the table");
    assert.equal(csv, await rest(restParams(page.url()), "text/csv"), "the CSV differs from the REST endpoint's");
    assert.match(download.suggestedFilename(), /^tally-sessions_.*\.csv$/);
  });
}
