// The console in a real browser: GraphiQL opens with the SPEC query, its
// variables and the account from the server, runs it, shows the rows, and
// its docs explorer reads the schema by introspection; a subscription
// typed into it shows new sessions as they arrive.
import assert from "node:assert/strict";
import { join } from "node:path";
import { config, ingest, until, withPage } from "./harness.mjs";

/** paneText is what a GraphiQL pane shows, with Monaco's spaces made plain. */
async function paneText(locator) {
  return (await locator.innerText()).replace(/\u00a0/g, " ");
}

export async function consoleRunsTheSpecQuery() {
  await withPage(async (page) => {
    const answered = page.waitForResponse(
      (r) => r.url() === `${config.base}/v1/graphql` && r.request().method() === "POST" && (r.request().postData() ?? "").includes("OpenClosedSessionsInterval"),
    );
    answered.catch(() => {}); // a failure below is reported instead
    await page.goto(`${config.base}/console?run=1`);
    const response = await answered;
    const request = response.request();

    // It sent the SPEC query with the server's variables and account.
    const defaults = JSON.parse(await page.locator("#tally-defaults").textContent());
    const sent = JSON.parse(request.postData());
    assert.equal(sent.query, defaults.query, "the console ran another query than the server's default");
    assert.match(sent.query, /rows: open_closed_sessions_interval_counts_v2\(/);
    assert.deepEqual(sent.variables, defaults.variables);
    assert.equal(request.headers()["x-moveo-account-id"], config.account);

    // The answer holds real rows, and the response pane shows them.
    const body = await response.json();
    assert.equal(body.errors, undefined, JSON.stringify(body.errors));
    const rows = body.data.rows;
    assert.ok(rows.length > 0, "the SPEC query answered no rows");
    assert.ok(rows.some((r) => r.closed_sessions > 0), `the demo's rows are all zero: ${JSON.stringify(rows)}`);
    const pane = page.locator(".graphiql-response");
    const first = rows[0];
    await until("the response pane to show the first row", async () => {
      const text = await paneText(pane);
      return text.includes('"rows": [') && text.includes(`"closed_sessions": ${first.closed_sessions}`) && text.includes(`"date": "${first.date}"`);
    });

    if (config.screenshots) await page.screenshot({ path: join(config.screenshots, "console.png") });

    // The docs explorer lists the function, from introspection.
    await page.getByRole("button", { name: /documentation explorer/i }).click();
    const docs = page.locator(".graphiql-doc-explorer");
    await until("the docs explorer to list the root types", async () => /query_root/.test(await docs.innerText()));
    await docs.getByText("query_root").first().click();
    await until("the docs explorer to list the function", async () => (await docs.innerText()).includes("open_closed_sessions_interval_counts_v2"));
  });
}

export async function consoleRunsASubscription() {
  await withPage(async (page) => {
    const sockets = [];
    page.on("websocket", (ws) => {
      const frames = [];
      ws.on("framesent", (f) => frames.push(String(f.payload)));
      sockets.push({ url: ws.url(), frames });
    });
    await page.goto(`${config.base}/console`);
    const query = page.locator(".graphiql-query-editor .monaco-editor");
    await query.waitFor();

    // Today's interval in UTC, as a live query. One line: Monaco closes
    // brackets and indents after line breaks typed into it.
    const today = new Date().toISOString().slice(0, 10);
    await query.click();
    await page.keyboard.press("Control+A");
    await page.keyboard.insertText(
      `subscription Today { rows: open_closed_sessions_interval_counts_v2(args: {start_time: "${today}", end_time: "${today}"}) { per_interval open_sessions } }`,
    );
    // The SPEC variables would be unexpected in this operation.
    await page.locator(".graphiql-editor-tool .monaco-editor").first().click();
    await page.keyboard.press("Control+A");
    await page.keyboard.press("Delete");
    await page.getByRole("button", { name: /execute/i }).click();

    const pane = page.locator(".graphiql-response");
    const count = async () => {
      const m = /"open_sessions": (\d+)/.exec(await paneText(pane));
      return m ? Number(m[1]) : undefined;
    };
    const before = await until("the first result", count);
    const socket = sockets.find((s) => s.frames.some((f) => f.includes('"subscribe"') && f.includes("subscription Today")));
    assert.ok(socket, `the subscription did not go over a WebSocket: ${JSON.stringify(sockets)}`);
    assert.ok(socket.frames.some((f) => f.includes('"connection_init"') && f.includes(config.account)), "connection_init did not carry the account");

    const start = new Date(Date.now() - 1000).toISOString().slice(0, 19);
    const stamp = Date.now();
    await ingest([1, 2].map((i) => ({ account_id: config.account, session_id: `console-live-${stamp}-${i}`, start_time: start })));
    await until("the response pane to count the two new sessions", async () => (await count()) === before + 2);
  });
}
