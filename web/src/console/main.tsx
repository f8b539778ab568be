// /console: GraphiQL (npm graphiql) against Tally, opening with the SPEC
// query and the server's default variables in the active tab (GraphiQL
// reuses a saved tab holding exactly these and keeps the user's other
// tabs), credentials from the header
// fields, the docs explorer fed by introspection, and subscriptions over
// graphql-ws. /console?run=1 runs the first query as soon as the schema is in.
import "graphiql/setup-workers/vite";
// GraphiQL's styles, part by part, without graphiql/style.css's inlined web
// fonts (Roboto, Fira Code: half a megabyte); console.css points GraphiQL's
// font variables at system fonts.
import "@graphiql/react/style.css";
import "@graphiql/plugin-doc-explorer/style.css";
import "@graphiql/plugin-history/style.css";
import "graphiql/graphiql.css";
import "../shared/base.css";
import "./console.css";

import { ToolbarButton, useGraphiQL, useGraphiQLActions, PlusIcon } from "@graphiql/react";
import { GraphiQL } from "graphiql";
import { useEffect, useRef } from "react";
import { createRoot } from "react-dom/client";
import { credentialHeaders, loadCredentials, type Credentials } from "../shared/credentials";
import { readDefaults } from "../shared/defaults";
import { graphqlURL } from "../shared/graphql";
import { mountHeader } from "../shared/header";
import { tallyFetcher } from "./fetcher";
import { specQuery, specVariables } from "./spec";

const defaults = readDefaults();
const query = defaults.query ?? specQuery;
const variables = JSON.stringify(defaults.variables ?? specVariables, null, 2);
const autorun = new URLSearchParams(location.search).get("run") === "1";

// SpecButton opens a new tab holding the SPEC query and its variables.
function SpecButton() {
  const { addTab } = useGraphiQLActions();
  const queryEditor = useGraphiQL((s) => s.queryEditor);
  const variableEditor = useGraphiQL((s) => s.variableEditor);
  return (
    <ToolbarButton
      label="Open the SPEC query in a new tab"
      data-testid="spec-query"
      onClick={() => {
        addTab();
        queryEditor?.setValue(query);
        variableEditor?.setValue(variables);
      }}
    >
      <PlusIcon className="graphiql-toolbar-icon" aria-hidden="true" />
    </ToolbarButton>
  );
}

// AutoRun runs the active tab once, when the editor exists and the schema
// has been fetched (or failed to be).
function AutoRun() {
  const { run } = useGraphiQLActions();
  const ready = useGraphiQL((s) => Boolean(s.queryEditor) && !s.isIntrospecting && (Boolean(s.schema) || Boolean(s.fetchError)));
  const done = useRef(false);
  useEffect(() => {
    if (ready && !done.current) {
      done.current = true;
      run();
    }
  }, [ready, run]);
  return null;
}

function Console({ fetcher }: { fetcher: ReturnType<typeof tallyFetcher> }) {
  return (
    <GraphiQL
      fetcher={fetcher}
      initialQuery={query}
      initialVariables={variables}
      defaultEditorToolsVisibility="variables"
      shouldPersistHeaders={false}
    >
      <GraphiQL.Logo>
        <span className="console-logo">Tally console</span>
      </GraphiQL.Logo>
      <GraphiQL.Toolbar>
        {({ prettify, copy, merge }) => (
          <>
            {prettify}
            {merge}
            {copy}
            <SpecButton />
          </>
        )}
      </GraphiQL.Toolbar>
      {autorun && <AutoRun />}
    </GraphiQL>
  );
}

const root = createRoot(document.getElementById("graphiql")!);
let fetcher: ReturnType<typeof tallyFetcher> | undefined;

function render(c: Credentials) {
  fetcher?.dispose();
  fetcher = tallyFetcher(credentialHeaders(c));
  root.render(<Console fetcher={fetcher} />);
}

const status = mountHeader(document.getElementById("site-header")!, {
  page: "console",
  credentials: loadCredentials(defaults.accountId),
  adminSecretRequired: defaults.adminSecretRequired,
  onCredentials: render,
});
status.textContent = new URL(graphqlURL()).pathname;
status.title = "GraphQL over HTTP POST; subscriptions over WebSocket (graphql-transport-ws)";
render(loadCredentials(defaults.accountId));
