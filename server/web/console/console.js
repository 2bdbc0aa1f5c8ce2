// The Syncline console: plain ES module, no build step, no network beyond this server.
// Everything shown comes from GraphQL (HTTP POST /graphql, WebSocket /graphql with
// graphql-transport-ws) or /console/api/* (layout, row counts, conflict log), all sent with the
// credentials entered once and kept in localStorage.

const KEY = "syncline-console-auth";
const EXPLORER_KEY = "syncline-api-key"; // the explorer page's own key (same value)
const $view = document.getElementById("view");
const SVGNS = "http://www.w3.org/2000/svg";

// ---------------------------------------------------------------- auth

function credentials() {
  try { return JSON.parse(localStorage.getItem(KEY) || "null"); } catch { return null; }
}

function authHeaders() {
  const c = credentials();
  if (!c) return {};
  return c.kind === "authorization" ? { Authorization: c.value } : { "x-api-key": c.value };
}

function askForCredentials(message) {
  const dlg = document.getElementById("login");
  document.getElementById("login-error").textContent = message || "";
  const c = credentials();
  if (c) { document.getElementById("login-kind").value = c.kind; document.getElementById("login-value").value = c.value; }
  if (!dlg.open) dlg.showModal();
}

document.getElementById("login-form").addEventListener("submit", () => {
  const kind = document.getElementById("login-kind").value;
  const value = document.getElementById("login-value").value.trim();
  localStorage.setItem(KEY, JSON.stringify({ kind, value }));
  localStorage.setItem(EXPLORER_KEY, value);
  live.restart();
  route();
});
document.getElementById("logout").onclick = () => askForCredentials();

class AuthError extends Error {}

async function gql(query, variables = {}) {
  const res = await fetch("/graphql", {
    method: "POST",
    headers: { "Content-Type": "application/json", ...authHeaders() },
    body: JSON.stringify({ query, variables }),
  });
  if (res.status === 401) { askForCredentials("The server refused these credentials."); throw new AuthError("unauthorized"); }
  const body = await res.json();
  if (body.errors && body.errors.length) throw new Error(body.errors.map((e) => e.message).join("\n"));
  return body.data;
}

async function api(path, init = {}) {
  const res = await fetch(path, { ...init, headers: { "Content-Type": "application/json", ...authHeaders(), ...(init.headers || {}) } });
  if (res.status === 401) { askForCredentials("The server refused these credentials."); throw new AuthError("unauthorized"); }
  const body = await res.json();
  if (!res.ok) throw new Error((body.errors || []).map((e) => e.message).join("\n") || res.statusText);
  return body;
}

// ---------------------------------------------------------------- WebSocket (graphql-transport-ws)

class Live {
  constructor() { this.ws = null; this.subs = new Map(); this.next = 1; this.acked = false; this.retry = null; this.delay = 500; }

  restart() { if (this.ws) this.ws.close(); else this.connect(); }

  connect() {
    if (!credentials()) return;
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/graphql";
    const ws = new WebSocket(url, "graphql-transport-ws");
    this.ws = ws; this.acked = false;
    ws.onopen = () => ws.send(JSON.stringify({ type: "connection_init", payload: authHeaders() }));
    ws.onmessage = (m) => this.receive(JSON.parse(m.data));
    ws.onclose = () => {
      this.ws = null; this.acked = false; setLive(false);
      clearTimeout(this.retry);
      // Back off (up to 30 s) while the server is away or refuses the credentials.
      this.delay = Math.min(this.delay * 2, 30000);
      this.retry = setTimeout(() => this.connect(), this.delay);
    };
  }

  receive(msg) {
    if (msg.type === "connection_ack") {
      this.acked = true; this.delay = 500; setLive(true);
      for (const [id, s] of this.subs) this.send(id, s);
    } else if (msg.type === "ping") {
      this.ws.send(JSON.stringify({ type: "pong" }));
    } else if (msg.type === "next") {
      const s = this.subs.get(msg.id);
      if (s) s.onData(msg.payload.data);
    } else if (msg.type === "error") {
      console.warn("subscription error", msg.payload);
    }
  }

  send(id, s) {
    this.ws.send(JSON.stringify({ id, type: "subscribe", payload: { query: s.query, variables: s.variables } }));
  }

  subscribe(query, variables, onData) {
    const id = String(this.next++);
    const s = { query, variables, onData };
    this.subs.set(id, s);
    if (this.acked) this.send(id, s); else if (!this.ws) this.connect();
    return () => {
      this.subs.delete(id);
      if (this.acked) this.ws.send(JSON.stringify({ id, type: "complete" }));
    };
  }
}

const live = new Live();
function setLive(on) {
  const el = document.getElementById("live");
  el.textContent = on ? "live" : "offline";
  el.className = "live " + (on ? "on" : "off");
  document.body.dataset.live = on ? "1" : "0";
}

// ---------------------------------------------------------------- helpers

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined && v !== false) el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : String(c));
  return el;
}

function s(tag, attrs = {}) {
  const el = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

function pretty(text) {
  if (text === null || text === undefined) return "";
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return String(text); }
}

function table(headers, rows) {
  return h("table", {}, h("thead", {}, h("tr", {}, headers.map((x) => h("th", {}, x)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c))))));
}

function machineName(arn) { return arn.split(":").pop(); }
let cleanup = [];

// ---------------------------------------------------------------- graph

/** Draw a layout (server/workflows/graph.py) as SVG; returns the <svg>. */
export function drawGraph(lay) {
  const svg = s("svg", { width: lay.width, height: lay.height, viewBox: `0 0 ${lay.width} ${lay.height}`, class: "state-graph" });
  const defs = s("defs");
  const marker = s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
  marker.append(s("path", { d: "M0,0L10,5L0,10z", fill: "#374151" }));
  defs.append(marker); svg.append(defs);
  for (const n of lay.nodes) {
    const g = s("g", { class: `node ${n.kind}`, "data-state": n.id, "data-type": n.type });
    if (n.kind === "group" || n.kind === "branch") {
      g.append(s("rect", { x: n.x, y: n.y, width: n.w, height: n.h, rx: 8, fill: n.kind === "group" ? "#fafafa" : "none",
        stroke: "#9ca3af", "stroke-dasharray": n.kind === "branch" ? "4 3" : "none" }));
      const t = s("text", { x: n.x + 8, y: n.y + 17, "font-weight": 600 });
      t.textContent = n.kind === "group" ? `${n.label} · ${n.type}` : n.label;
      g.append(t);
    } else if (n.kind === "start" || n.kind === "end") {
      g.append(s("rect", { x: n.x, y: n.y, width: n.w, height: n.h, rx: n.h / 2, fill: "#374151" }));
      const t = s("text", { x: n.x + n.w / 2, y: n.y + n.h / 2 + 4, fill: "#fff", "text-anchor": "middle" });
      t.textContent = n.label; g.append(t);
    } else {
      g.dataset.status = "NOT_STARTED";
      g.append(s("rect", { x: n.x, y: n.y, width: n.w, height: n.h, rx: 6 }));
      const t = s("text", { x: n.x + n.w / 2, y: n.y + 17, "text-anchor": "middle", "font-weight": 600 });
      t.textContent = n.label;
      const t2 = s("text", { x: n.x + n.w / 2, y: n.y + 32, "text-anchor": "middle", fill: "#6b7280", "font-size": 10 });
      t2.textContent = n.type;
      const title = s("title"); title.textContent = n.resource ? `${n.label} (${n.type})\n${n.resource}` : `${n.label} (${n.type})`;
      g.append(title, t, t2);
    }
    svg.append(g);
  }
  const colors = { catch: "#dc2626", choice: "#7c3aed", default: "#6b7280" };
  for (const e of lay.edges) {
    const color = colors[e.kind] || "#374151";
    svg.append(s("polyline", { class: `edge ${e.kind}`, points: e.points.map((p) => p.join(",")).join(" "), fill: "none",
      stroke: color, "stroke-dasharray": e.kind === "catch" ? "5 3" : "none", "marker-end": "url(#arrow)",
      "data-source": e.source, "data-target": e.target }));
    if (e.label && e.points.length >= 2) {
      const [[x1, y1], [x2, y2]] = e.points;
      const t = s("text", { x: x1 + (x2 - x1) * 0.45 + (x2 < x1 ? -4 : 4), y: y1 + (y2 - y1) * 0.45, fill: color,
        "font-size": 10, "text-anchor": x2 < x1 ? "end" : "start" });
      t.textContent = e.label; svg.append(t);
    }
  }
  svg.setAttribute("font-family", "system-ui, sans-serif");
  svg.setAttribute("font-size", "12");
  return svg;
}

async function graphFor(definition) {
  return drawGraph(await api("/console/api/layout", { method: "POST", body: JSON.stringify({ definition }) }));
}

const FAILURES = /^(Task|LambdaFunction|Activity)(Failed|TimedOut)$|^(Parallel|Map)StateFailed$|^EvaluationFailed$/;
const STARTS = /^(Task|LambdaFunction|Activity)(Scheduled|Started)$/;

/**
 * Each state's status from the history: NOT_STARTED (absent), RUNNING, SUCCEEDED, FAILED,
 * CAUGHT (failed, then a Catch moved on) or WAITING (a .waitForTaskToken task awaiting its token).
 */
export function stateStatuses(events, resources, pending) {
  const status = {};
  const active = []; // entered, not exited, in entry order
  let failedOpen = []; // failed states not yet retried or caught
  const res = (n) => resources.resource[n] || "";
  const leaf = (groups) => {
    for (let i = active.length - 1; i >= 0; i--) {
      const isGroup = /^(Parallel|Map)$/.test(resources.types[active[i]] || "");
      if (isGroup === groups) return active[i];
    }
    return active[active.length - 1];
  };
  // previousEventId chains events within one branch (AWS's numbering): an event belongs to the
  // state its chain last entered, which tells interleaved Parallel branches apart.
  const owner = {};
  const ownerOf = (ev) => {
    const n = owner[ev.previousEventId];
    return n && active.includes(n) ? n : null;
  };
  for (const ev of events) {
    const d = ev.details ? JSON.parse(ev.details) : {};
    const t = ev.type;
    owner[ev.id] = t.endsWith("StateEntered") ? d.name : owner[ev.previousEventId];
    if (t.endsWith("StateEntered")) {
      for (const n of failedOpen) status[n] = "CAUGHT";
      failedOpen = [];
      status[d.name] = "RUNNING";
      active.push(d.name);
    } else if (t.endsWith("StateExited")) {
      // A state that failed and still exits was caught (a Catch moved on); else it succeeded.
      status[d.name] = failedOpen.includes(d.name) ? "CAUGHT" : "SUCCEEDED";
      failedOpen = failedOpen.filter((x) => x !== d.name);
      const i = active.lastIndexOf(d.name);
      if (i >= 0) active.splice(i, 1);
    } else if (STARTS.test(t)) {
      // Scheduled events name the resource: find the active state that runs it (parallel
      // branches interleave); otherwise the state entered last.
      const byResource = d.resource ? active.filter((a) => res(a) === d.resource || res(a).startsWith(d.resource)) : [];
      const n = ownerOf(ev) || (byResource.length ? byResource[byResource.length - 1] : leaf(false));
      if (n) {
        failedOpen = failedOpen.filter((x) => x !== n);
        const token = (resources.resource[n] || "").endsWith(".waitForTaskToken");
        status[n] = token && t.endsWith("Started") ? "WAITING" : "RUNNING";
      }
    } else if (FAILURES.test(t)) {
      const n = /^(Parallel|Map)/.test(t) ? leaf(true) : ownerOf(ev) || leaf(false);
      if (n) { status[n] = "FAILED"; failedOpen.push(n); if (/^(Parallel|Map)/.test(t)) { const i = active.lastIndexOf(n); if (i >= 0) active.splice(i, 1); } }
    } else if (/^Execution(Failed|Aborted|TimedOut)$/.test(t)) {
      for (const n of active) if (status[n] === "RUNNING" || status[n] === "WAITING") status[n] = "FAILED";
    }
  }
  for (const p of pending || []) if (status[p.stateName] === "RUNNING") status[p.stateName] = "WAITING";
  return status;
}

function resourcesOf(lay) {
  const r = { resource: {}, types: {} };
  for (const n of lay.nodes) { r.resource[n.id] = n.resource || ""; r.types[n.id] = n.type; }
  return r;
}

function paint(svg, status) {
  for (const g of svg.querySelectorAll("g.node.state, g.node.group")) {
    const st = status[g.dataset.state];
    if (g.classList.contains("state")) g.dataset.status = st || "NOT_STARTED";
    else if (st) g.dataset.status = st; else delete g.dataset.status;
  }
}

const LEGEND = () => h("div", { class: "legend" }, "Legend: ",
  ["NOT_STARTED", "RUNNING", "SUCCEEDED", "FAILED", "CAUGHT", "WAITING"].map((x) => h("span", { class: x }, x.replace("_", " ").toLowerCase())));

// ---------------------------------------------------------------- views

async function machinesView(name) {
  const { listStateMachines } = await gql("{ listStateMachines { name type version source stateMachineArn } }");
  const list = table(["Name", "Type", "Version", "Source", ""], listStateMachines.map((m) => [
    h("a", { href: `#/machines/${encodeURIComponent(m.name)}` }, m.name), m.type, m.version, m.source,
    h("a", { href: `#/executions?stateMachine=${encodeURIComponent(m.name)}` }, "executions"),
  ]));
  $view.replaceChildren(h("h1", {}, "State machines"), list);
  if (!name) return;
  const { describeStateMachine: m } = await gql(
    "query($n: String!) { describeStateMachine(stateMachine: $n) { name type version definition stateMachineArn } }", { n: name });
  if (!m) { $view.append(h("p", { class: "error" }, `no state machine ${name}`)); return; }
  const { validateStateMachineDefinition: v } = await gql(
    "query($d: String!, $t: String) { validateStateMachineDefinition(definition: $d, type: $t) { result diagnostics { severity code message location } } }",
    { d: m.definition, t: m.type });
  const diags = v.diagnostics.length
    ? table(["Severity", "Code", "Location", "Message"], v.diagnostics.map((d) => [h("span", { class: `diag-${d.severity}` }, d.severity), d.code, d.location, d.message]))
    : h("p", { class: "ok" }, "No diagnostics.");
  const input = h("textarea", { id: "start-input", rows: 4 }, "{}");
  const out = h("p", { id: "start-result" });
  const start = h("button", { id: "start-execution", onclick: async () => {
    try {
      const { startExecution } = await gql("mutation($m: String!, $i: String) { startExecution(stateMachine: $m, input: $i) { executionArn } }", { m: m.name, i: input.value });
      location.hash = `#/execution/${encodeURIComponent(startExecution.executionArn)}`;
    } catch (e) { out.textContent = e.message; out.className = "error"; }
  } }, "Start execution");
  const graph = h("div", { class: "graph", id: "graph" }, await graphFor(m.definition));
  $view.append(
    h("h2", {}, `${m.name} (${m.type}, version ${m.version})`),
    h("div", { class: "grid2" },
      h("div", {}, graph),
      h("div", {},
        h("h2", {}, "Validation: ", h("span", { id: "validation-result", class: v.result === "OK" ? "ok" : "error" }, v.result)), diags,
        h("h2", {}, "Start an execution"), input, start, out,
        h("h2", {}, "Definition"), h("pre", { class: "code" }, pretty(m.definition)))),
  );
}

async function executionsView(params) {
  const sm = params.get("stateMachine") || "";
  const st = params.get("status") || "";
  const { listStateMachines } = await gql("{ listStateMachines { name } }");
  const smSel = h("select", { id: "filter-machine" }, h("option", { value: "" }, "all machines"),
    listStateMachines.map((m) => h("option", { value: m.name, selected: m.name === sm }, m.name)));
  const stSel = h("select", { id: "filter-status" }, ["", "RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"]
    .map((x) => h("option", { value: x, selected: x === st }, x || "any status")));
  const apply = () => { location.hash = `#/executions?stateMachine=${encodeURIComponent(smSel.value)}&status=${encodeURIComponent(stSel.value)}`; };
  smSel.onchange = apply; stSel.onchange = apply;
  const body = h("div", { id: "executions" });
  const load = async (token) => {
    const { listExecutions: r } = await gql(
      "query($m: String, $s: String, $t: String) { listExecutions(stateMachine: $m, status: $s, limit: 50, nextToken: $t) { executions { executionArn name status startDate stopDate stateMachineArn } nextToken } }",
      { m: sm || null, s: st || null, t: token || null });
    body.replaceChildren(table(["Name", "State machine", "Status", "Started", "Stopped"], r.executions.map((e) => [
      h("a", { href: `#/execution/${encodeURIComponent(e.executionArn)}` }, e.name), machineName(e.stateMachineArn),
      h("span", { class: `badge ${e.status}` }, e.status), e.startDate, e.stopDate || ""])),
    r.nextToken ? h("button", { onclick: () => load(r.nextToken) }, "Next page") : "");
  };
  $view.replaceChildren(h("h1", {}, "Executions"), h("div", { class: "toolbar" }, "Filter: ", smSel, stSel), body);
  await load();
  // New executions and status changes appear without a reload.
  cleanup.push(live.subscribe("subscription($m: String) { onExecutionStatusChange(stateMachine: $m) { executionArn status } }",
    { m: sm || null }, () => load()));
}

async function executionView(arn) {
  const { describeExecution: x } = await gql(
    "query($a: String!) { describeExecution(executionArn: $a) { executionArn name status stateMachineArn stateMachineVersion startDate stopDate input output error cause } }", { a: arn });
  if (!x) { $view.replaceChildren(h("p", { class: "error" }, `no execution ${arn}`)); return; }
  const name = machineName(x.stateMachineArn);
  const { describeStateMachine: m } = await gql("query($n: String!) { describeStateMachine(stateMachine: $n) { definition version } }", { n: name });
  // Draw the version the execution ran; callers not allowed the stored versions get the latest.
  let definition = m.definition;
  let drawn = `version ${m.version}`;
  if (x.stateMachineVersion && x.stateMachineVersion !== m.version) {
    try {
      definition = (await api(`/console/api/definition?stateMachine=${encodeURIComponent(name)}&version=${x.stateMachineVersion}`)).definition;
      drawn = `version ${x.stateMachineVersion}`;
    } catch (e) { drawn = `version ${m.version} (the latest; version ${x.stateMachineVersion} is not available: ${e.message})`; }
  }
  const lay = await api("/console/api/layout", { method: "POST", body: JSON.stringify({ definition }) });
  const svg = drawGraph(lay);
  const res = resourcesOf(lay);
  const events = [];
  const seen = new Set();
  let pending = [];
  const statusEl = h("span", { id: "execution-status", class: `badge ${x.status}` }, x.status);
  const histEl = h("div", { id: "history" });
  const pendEl = h("div", { id: "pending" });
  const msg = h("p", { id: "action-result" });
  const outEl = h("pre", { class: "code", id: "execution-output" }, pretty(x.output || x.error || ""));
  const act = (fn) => async () => { try { msg.className = "ok"; msg.textContent = await fn(); } catch (e) { msg.className = "error"; msg.textContent = e.message; } };
  const stop = h("button", { id: "stop", onclick: act(async () => {
    await gql("mutation($a: String!) { stopExecution(executionArn: $a, error: \"Console.Stopped\", cause: \"stopped from the console\") { date } }", { a: arn });
    return "stopped";
  }) }, "Stop");
  const redrive = h("button", { id: "redrive", onclick: act(async () => {
    await gql("mutation($a: String!) { redriveExecution(executionArn: $a) { date } }", { a: arn });
    return "redriven";
  }) }, "Redrive");
  const refreshStatus = async () => {
    const { describeExecution: y } = await gql("query($a: String!) { describeExecution(executionArn: $a) { status output error cause } }", { a: arn });
    statusEl.textContent = y.status; statusEl.className = `badge ${y.status}`;
    outEl.textContent = pretty(y.output || (y.error ? `${y.error}: ${y.cause || ""}` : ""));
    stop.disabled = y.status !== "RUNNING";
    redrive.disabled = !["FAILED", "TIMED_OUT", "ABORTED"].includes(y.status);
  };
  const refreshPending = async () => {
    const { listPendingTasks } = await gql("query($m: String) { listPendingTasks(stateMachine: $m) { taskToken executionArn stateName input startDate } }", { m: name });
    pending = listPendingTasks.filter((p) => p.executionArn === arn);
    pendEl.replaceChildren(...(pending.length ? [table(["State", "Since", "Input", "Decision"], pending.map((p) => {
      const output = h("textarea", { rows: 2, class: "approve-output" }, '{"approved": true}');
      return [p.stateName, p.startDate, h("pre", {}, pretty(p.input)), h("div", {}, output,
        h("button", { class: "approve", "data-state": p.stateName, onclick: act(async () => {
          await gql("mutation($t: String!, $o: String!) { sendTaskSuccess(taskToken: $t, output: $o) }", { t: p.taskToken, o: output.value });
          return `approved ${p.stateName}`;
        }) }, "Approve"),
        h("button", { class: "reject", "data-state": p.stateName, onclick: act(async () => {
          await gql("mutation($t: String!) { sendTaskFailure(taskToken: $t, error: \"Rejected\", cause: \"rejected from the console\") }", { t: p.taskToken });
          return `rejected ${p.stateName}`;
        }) }, "Reject"))];
    }))] : [h("p", {}, "No task is waiting for a token.")]));
  };
  // The history table grows by appending rows; it is rebuilt only when an event arrives out of
  // order (a live event overtaking the history page). Painting waits for the next frame.
  const row = (e) => {
    const d = e.details ? JSON.parse(e.details) : {};
    const { name, input, output, inputDetails, outputDetails, ...rest } = d;
    return h("tr", {}, [e.id, e.timestamp, e.type, name || "", h("pre", { class: "input" }, pretty(input)),
      h("pre", { class: "output" }, pretty(output)), h("pre", {}, Object.keys(rest).length ? JSON.stringify(rest, null, 2) : "")]
      .map((c) => h("td", {}, c)));
  };
  const tbody = h("tbody");
  histEl.append(h("table", {}, h("thead", {}, h("tr", {}, ["#", "Time", "Type", "State", "Input", "Output", "Details"].map((x) => h("th", {}, x)))), tbody));
  let shown = 0;
  let frame = null;
  const byId = (a, b) => a.id - b.id;
  const render = () => {
    let fresh = events.slice(shown).sort(byId);
    if (shown && fresh.length && fresh[0].id < events[shown - 1].id) {
      events.sort(byId);
      tbody.replaceChildren();
      fresh = events.slice();
    } else {
      events.splice(shown, fresh.length, ...fresh);
    }
    tbody.append(...fresh.map(row));
    shown = events.length;
    if (frame === null) frame = requestAnimationFrame(() => { frame = null; paint(svg, stateStatuses(events, res, pending)); });
  };
  const add = (e) => { if (e && !seen.has(e.id)) { seen.add(e.id); events.push(e); } };
  $view.replaceChildren(
    h("h1", {}, "Execution ", h("code", {}, x.name), " ", statusEl),
    h("p", {}, "State machine ", h("a", { href: `#/machines/${encodeURIComponent(name)}` }, name),
      ` (ran version ${x.stateMachineVersion ?? "?"}, drawn: `, h("span", { id: "drawn-version" }, drawn), `), started ${x.startDate}`),
    h("div", { class: "toolbar" }, stop, redrive, msg),
    LEGEND(),
    h("div", { class: "grid2" },
      h("div", { class: "graph", id: "graph" }, svg),
      h("div", {}, h("h2", {}, "Waiting for a task token"), pendEl,
        h("h2", {}, "Input"), h("pre", { class: "code" }, pretty(x.input)),
        h("h2", {}, "Output"), outEl)),
    h("h2", {}, "History"), histEl);
  let timer = null;
  const onEvent = (data) => {
    const n = data && data.onExecutionEvent;
    if (!n) return;
    add(n.event);
    render();
    clearTimeout(timer);
    timer = setTimeout(async () => { await Promise.all([refreshPending(), refreshStatus()]); render(); }, 150);
  };
  // Subscribe first, then read the history: events committed in between arrive on both and are
  // de-duplicated by id.
  cleanup.push(live.subscribe(
    "subscription($a: String) { onExecutionEvent(executionArn: $a) { executionArn status event { id previousEventId timestamp type details } } }",
    { a: arn }, onEvent));
  let token = null;
  do {
    const { getExecutionHistory: page } = await gql(
      "query($a: String!, $t: String) { getExecutionHistory(executionArn: $a, limit: 1000, nextToken: $t) { events { id previousEventId timestamp type details } nextToken } }",
      { a: arn, t: token });
    page.events.forEach(add);
    token = page.nextToken;
  } while (token);
  await Promise.all([refreshPending(), refreshStatus()]);
  render();
}

async function dataView(model, params) {
  let models;
  try {
    ({ models } = await api("/console/api/models"));
  } catch (e) {
    if (e instanceof AuthError) throw e;
    // Counts are for API keys and admins; others still get the models (from the schema).
    const { __schema } = await gql("{ __schema { types { name fields { name } } } }");
    models = __schema.types.filter((t) => t.fields && t.fields.some((f) => f.name === "_lastChangedAt") && t.fields.some((f) => f.name === "id"))
      .map((t) => ({ name: t.name, rows: "n/a" }));
  }
  $view.replaceChildren(h("h1", {}, "Data"), table(["Model", "Rows"], models.map((m) => [
    h("a", { href: `#/data/${encodeURIComponent(m.name)}` }, m.name), h("span", { class: "row-count", "data-model": m.name }, m.rows)])));
  if (!model) return;
  const t = await gql("query($n: String!) { __type(name: $n) { fields { name type { kind name ofType { kind name ofType { kind name } } } } } }", { n: model });
  const scalar = (ty) => { while (ty && (ty.kind === "NON_NULL")) ty = ty.ofType; return ty && (ty.kind === "SCALAR" || ty.kind === "ENUM"); };
  const fields = (t.__type ? t.__type.fields : []).filter((f) => scalar(f.type)).map((f) => f.name);
  const filterText = params.get("filter") || "";
  const filter = h("input", { id: "row-filter", size: 60, placeholder: '{"status": {"eq": "SHIPPED"}}', value: filterText });
  const go = h("button", { id: "row-filter-apply", onclick: () => { location.hash = `#/data/${encodeURIComponent(model)}?filter=${encodeURIComponent(filter.value)}`; } }, "Filter");
  const rowsEl = h("div", { id: "rows" });
  $view.append(h("h2", {}, model), h("div", { class: "toolbar" }, "Filter (ModelXFilterInput as JSON): ", filter, go), rowsEl);
  let parsed = null;
  if (filterText) { try { parsed = JSON.parse(filterText); } catch (e) { rowsEl.replaceChildren(h("p", { class: "error" }, `the filter is not JSON: ${e.message}`)); return; } }
  const load = async (token) => {
    const q = `query($f: Model${model}FilterInput, $t: String) { list${model}s(filter: $f, limit: 50, nextToken: $t) { items { ${fields.join(" ")} } nextToken } }`;
    try {
      const data = await gql(q, { f: parsed, t: token || null });
      const page = data[`list${model}s`];
      rowsEl.replaceChildren(table(fields, page.items.map((r) => fields.map((f) => r[f] === null || r[f] === undefined ? "" : typeof r[f] === "object" ? JSON.stringify(r[f]) : String(r[f])))),
        page.nextToken ? h("button", { onclick: () => load(page.nextToken) }, "Next page") : "");
    } catch (e) { rowsEl.replaceChildren(h("p", { class: "error" }, e.message)); }
  };
  await load();
}

async function conflictsView(params) {
  const model = params.get("model") || "";
  const body = h("div", { id: "conflicts" });
  const sel = h("input", { id: "conflict-model", placeholder: "model (all)", value: model });
  const go = h("button", { onclick: () => { location.hash = `#/conflicts?model=${encodeURIComponent(sel.value)}`; } }, "Filter");
  $view.replaceChildren(h("h1", {}, "Conflict log"), h("div", { class: "toolbar" }, sel, go), body);
  const load = async (token) => {
    const q = new URLSearchParams({ limit: "50" }); if (model) q.set("model", model); if (token) q.set("nextToken", token);
    const r = await api(`/console/api/conflicts?${q}`);
    body.replaceChildren(r.conflicts.length ? table(["#", "At", "Model", "Item", "Strategy", "Outcome", "Local", "Remote", "Result"], r.conflicts.map((c) => [
      c.id, new Date(c.at).toISOString(), c.model, c.item_id, c.strategy, c.outcome,
      h("pre", {}, JSON.stringify(c.local, null, 2)), h("pre", {}, JSON.stringify(c.remote, null, 2)), h("pre", {}, JSON.stringify(c.result, null, 2))])) : h("p", {}, "No conflicts recorded."),
    r.nextToken ? h("button", { onclick: () => load(r.nextToken) }, "Next page") : "");
  };
  await load();
}

function explorerView() {
  // The offline explorer (server/web/explorer.html) served by GET /graphql to browsers.
  const c = credentials();
  if (c) localStorage.setItem(EXPLORER_KEY, c.value);
  $view.replaceChildren(h("iframe", { class: "explorer", src: "/graphql", title: "GraphQL explorer" }));
}

// ---------------------------------------------------------------- router

async function route() {
  for (const fn of cleanup.splice(0)) fn();
  const raw = location.hash.replace(/^#\/?/, "") || "machines";
  const [path, query] = raw.split("?");
  const params = new URLSearchParams(query || "");
  const [section, ...rest] = path.split("/");
  const arg = rest.length ? decodeURIComponent(rest.join("/")) : "";
  for (const a of document.querySelectorAll("[data-nav]")) a.classList.toggle("active", a.dataset.nav === section || (section === "execution" && a.dataset.nav === "executions"));
  document.body.dataset.ready = "0";
  if (!credentials()) { askForCredentials(); return; }
  try {
    if (section === "machines") await machinesView(arg);
    else if (section === "executions") await executionsView(params);
    else if (section === "execution") await executionView(arg);
    else if (section === "data") await dataView(arg, params);
    else if (section === "conflicts") await conflictsView(params);
    else if (section === "explorer") explorerView();
    else $view.replaceChildren(h("p", {}, `unknown page ${section}`));
  } catch (e) {
    if (!(e instanceof AuthError)) $view.append(h("p", { class: "error" }, e.message));
  }
  document.body.dataset.ready = "1";
}

window.addEventListener("hashchange", route);
live.connect();
route();
