// The console in a real browser: GraphiQL opens with the SPEC query, its
// variables and the account from the server, runs it, shows the rows, and
// its docs explorer reads the schema by introspection.
import assert from "node:assert/strict";
import { join } from "node:path";
import { config, until, withPage } from "./harness.mjs";

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
