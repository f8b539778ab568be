// /dashboard: open and closed sessions per interval for the filters, range,
// interval and time zone in the URL, kept current over a live query.
import "../shared/base.css";
import "./dashboard.css";

import { credentialHeaders, loadCredentials, type Credentials } from "../shared/credentials";
import { readDefaults } from "../shared/defaults";
import { request } from "../shared/graphql";
import { el, mountHeader } from "../shared/header";
import { createChart } from "./chart";
import { cellText, columns, csvFileName, toCSV } from "./csv";
import { LiveQuery, type LiveMode } from "./live";
import { Picker, manageDisclosures } from "./pickers";
import {
  countsQuery,
  countsSubscription,
  countsVariablesOf,
  dimensionOf,
  dimensionsQuery,
  dimensionsVariablesOf,
  type CountsRow,
  type DimensionCount,
} from "./query";
import { defaultState, emptyFilters, filterArgs, parseState, stateToSearch, type DashboardState, type FilterArg, type TestFilter } from "./state";
import { browserTimeZone, intervalChoices, rangePresets, timeZones } from "./time";

const pollMs = 5000;
const retrySocketMs = 30000;
const dimensionsEveryMs = 30000;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const dash = $("dash");
const numberFormat = new Intl.NumberFormat("en-US");

const defaults = readDefaults();
let credentials: Credentials = loadCredentials(defaults.accountId);
const first = parseState(location.search, { ...defaultState(), account: credentials.accountId });
let state: DashboardState = first.state;
credentials.accountId = state.account;

// ---- header, live indicator ----
const status = mountHeader($("site-header"), {
  page: "dashboard",
  credentials,
  adminSecretRequired: defaults.adminSecretRequired,
  onCredentials(c) {
    credentials = c;
    setState({ ...state, account: c.accountId.trim() }, "replace");
  },
});
const liveDot = el("span", { class: "live", "data-testid": "live-indicator", "data-mode": "connecting" }, "Connecting…");
const liveToggle = el("button", { type: "button", class: "button-quiet live-toggle", "data-testid": "live-toggle" });
status.append(liveDot, liveToggle);
liveToggle.addEventListener("click", () => setState({ ...state, live: !state.live }, "replace"));

const modeText: Record<LiveMode, string> = { connecting: "Connecting…", live: "Live", polling: "Polling", paused: "Paused" };
function showMode(mode: LiveMode, detail: string) {
  liveDot.dataset.mode = mode;
  liveDot.textContent = mode === "polling" ? `Polling every ${pollMs / 1000} s` : modeText[mode];
  liveDot.title = detail;
}

// ---- controls ----
const presetSelect = $<HTMLSelectElement>("preset");
for (const p of rangePresets) presetSelect.append(new Option(p.label, p.id));
presetSelect.addEventListener("change", () => {
  const p = rangePresets.find((x) => x.id === presetSelect.value);
  presetSelect.value = "";
  if (p) setState({ ...state, ...p.range(state.timeZone) });
});

const startInput = $<HTMLInputElement>("start");
const endInput = $<HTMLInputElement>("end");
for (const [input, key] of [[startInput, "start"], [endInput, "end"]] as const) {
  input.step = "60";
  input.addEventListener("change", () => {
    if (input.value) setState({ ...state, [key]: input.value });
    else input.value = state[key];
  });
}

const intervalSelect = $<HTMLSelectElement>("interval");
for (const v of intervalChoices) intervalSelect.append(new Option(v, v));
intervalSelect.addEventListener("change", () => setState({ ...state, interval: intervalSelect.value }));

const zoneSelect = $<HTMLSelectElement>("time-zone");
const here = browserTimeZone();
for (const tz of timeZones()) zoneSelect.append(new Option(tz === here && tz !== "UTC" ? `${tz} (this browser)` : tz, tz));
zoneSelect.addEventListener("change", () => setState({ ...state, timeZone: zoneSelect.value }));

const testSelect = $<HTMLSelectElement>("is-test");
testSelect.addEventListener("change", () => setState({ ...state, test: testSelect.value as TestFilter }));

const pickerLabels: Record<FilterArg, string> = {
  desk_ids: "Desks",
  brain_parent_ids: "AI agents",
  brain_versions: "AI agent versions",
  integration_ids: "Integrations",
  channels: "Channels",
  agent_ids: "Human agents",
};
const pickers = Object.fromEntries(
  filterArgs.map((arg) => [
    arg,
    new Picker({ arg, label: pickerLabels[arg], onChange: (values) => setState({ ...state, filters: { ...state.filters, [arg]: values } }) }),
  ]),
) as Record<FilterArg, Picker>;
$("pickers").append(...filterArgs.map((a) => pickers[a].root));
manageDisclosures(Object.values(pickers));
$("clear-filters").addEventListener("click", () => setState({ ...state, filters: emptyFilters(), test: "all" }));

/** showControls makes every control show the state. */
function showControls() {
  startInput.value = state.start;
  endInput.value = state.end;
  if (![...intervalSelect.options].some((o) => o.value === state.interval)) intervalSelect.append(new Option(state.interval, state.interval));
  intervalSelect.value = state.interval;
  if (![...zoneSelect.options].some((o) => o.value === state.timeZone)) zoneSelect.append(new Option(state.timeZone, state.timeZone));
  zoneSelect.value = state.timeZone;
  testSelect.value = state.test;
  for (const arg of filterArgs) pickers[arg].setSelected(state.filters[arg]);
  liveToggle.textContent = state.live ? "Pause" : "Resume";
  liveToggle.setAttribute("aria-label", state.live ? "Pause live updates" : "Resume live updates");
}

// ---- errors and notices ----
const errors = new Map<string, string>();
function setError(source: "counts" | "values", message: string | undefined) {
  if (message) errors.set(source, message);
  else errors.delete(source);
  const box = $("error");
  box.replaceChildren(
    ...[...errors].map(([src, msg]) => el("p", {}, el("strong", {}, src === "counts" ? "Counts: " : "Filter values: "), msg)),
  );
  box.hidden = errors.size === 0;
  if (errors.has("counts")) dash.dataset.state = "error";
}
if (first.ignored.length) {
  const notice = $("notice");
  notice.textContent = `Parts of the link were not used: ${first.ignored.join("; ")}.`;
  notice.hidden = false;
}

// ---- chart, table, CSV ----
const chart = createChart($("chart"));
new ResizeObserver(() => chart.resize()).observe($("chart"));
let rows: CountsRow[] = [];
let shownJSON = "";

$("table-head").replaceChildren(
  ...columns.map((c) => el("th", { scope: "col", class: c.numeric ? "num" : "", title: c.key }, c.label)),
);

function showRows(next: CountsRow[]) {
  const json = JSON.stringify(next);
  dash.dataset.state = "ready";
  if (json === shownJSON) return;
  shownJSON = json;
  rows = next;
  chart.update(rows);
  const total = rows.reduce((n, r) => n + r.open_sessions + r.closed_sessions, 0);
  $("chart-empty").hidden = total > 0;
  $("table-body").replaceChildren(
    ...rows.map((r) =>
      el("tr", { "data-testid": "table-row" }, ...columns.map((c) => el("td", { class: c.numeric ? "num" : "" }, cellText(r, c)))),
    ),
  );
  const last = rows.at(-1);
  const kpi = (label: string, value: string) => el("div", {}, el("dt", {}, label), el("dd", {}, value));
  $("kpis").replaceChildren(
    kpi("Started", numberFormat.format(total)),
    kpi("Closed", numberFormat.format(rows.reduce((n, r) => n + r.closed_sessions, 0))),
    kpi("Backlog at end", last ? numberFormat.format(last.open_at_end) : "–"),
  );
  ($("download") as HTMLButtonElement).disabled = false;
  maybeRefreshValues();
}

$("download").addEventListener("click", () => {
  const blob = new Blob([toCSV(rows)], { type: "text/csv;charset=utf-8" });
  const a = el("a", { href: URL.createObjectURL(blob), download: csvFileName(state.start, state.end, state.interval) });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
});

// ---- filter values ----
let valuesKey = "";
let valuesAt = 0;
let valuesCtl: AbortController | undefined;

function refreshValues(force: boolean) {
  const variables = dimensionsVariablesOf(state);
  const headers = credentialHeaders(credentials);
  const key = JSON.stringify([variables, headers]);
  if (!force && key === valuesKey) return;
  valuesKey = key;
  valuesAt = Date.now();
  valuesCtl?.abort();
  const ctl = new AbortController();
  valuesCtl = ctl;
  if (force) for (const p of Object.values(pickers)) p.setValues(undefined);
  request<{ values: DimensionCount[] }>(dimensionsQuery, variables, headers, ctl.signal).then(
    ({ values }) => {
      if (ctl.signal.aborted) return;
      setError("values", undefined);
      for (const arg of filterArgs) {
        pickers[arg].setValues(values.filter((v) => v.dimension === dimensionOf[arg]).map(({ value, sessions }) => ({ value, sessions })));
      }
      const count = (v: string) => values.find((x) => x.dimension === "is_test" && x.value === v)?.sessions ?? 0;
      const [prod, test] = [count("false"), count("true")];
      testSelect.options[0].text = `All sessions (${numberFormat.format(prod + test)})`;
      testSelect.options[1].text = `Production only (${numberFormat.format(prod)})`;
      testSelect.options[2].text = `Test only (${numberFormat.format(test)})`;
    },
    (e: Error) => {
      if (ctl.signal.aborted) return;
      setError("values", e.message);
      for (const p of Object.values(pickers)) p.setValues([], "see the error above");
    },
  );
}

// New sessions may bring new values: look again now and then while data changes.
function maybeRefreshValues() {
  if (Date.now() - valuesAt > dimensionsEveryMs) refreshValues(true);
}

// ---- state changes ----
let live: LiveQuery<{ rows: CountsRow[] }> | undefined;

function run() {
  live?.stop();
  dash.dataset.state = "loading";
  live = new LiveQuery<{ rows: CountsRow[] }>({
    query: countsQuery,
    subscription: countsSubscription,
    variables: countsVariablesOf(state),
    headers: credentialHeaders(credentials),
    live: state.live,
    pollMs,
    retrySocketMs,
    onData: (d) => {
      setError("counts", undefined);
      showRows(d.rows);
    },
    onError: (e) => setError("counts", e.message),
    onMode: showMode,
  });
  live.start();
  refreshValues(false);
}

/** setState shows a new state, writes it to the URL and asks the server. */
function setState(next: DashboardState, history: "push" | "replace" = "push") {
  state = next;
  credentials.accountId = next.account;
  const url = `${location.pathname}?${stateToSearch(state)}`;
  if (history === "push") window.history.pushState(null, "", url);
  else window.history.replaceState(null, "", url);
  showControls();
  run();
}

window.addEventListener("popstate", () => {
  const { state: back } = parseState(location.search, { ...defaultState(), account: credentials.accountId });
  state = back;
  credentials.accountId = back.account;
  const accountInput = document.getElementById("cred-accountId") as HTMLInputElement | null;
  if (accountInput) accountInput.value = back.account;
  showControls();
  run();
});

setState(state, "replace");
