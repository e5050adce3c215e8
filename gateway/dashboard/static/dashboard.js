// The operator dashboard: polls the admin API with the token typed once, and
// writes every value with textContent (never as HTML), so nothing from the data
// can run as script in the page.
"use strict";

const POLL_MS = 3000;
let token = sessionStorage.getItem("uec-admin-token");
let timer = null;

function $(id) { return document.getElementById(id); }

async function call(path, options = {}) {
  const response = await fetch(path, {
    ...options,
    headers: { ...(options.headers || {}), Authorization: `Bearer ${token}` },
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(body.error || body.reason || `HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

function cell(row, text, cls) {
  const td = row.insertCell();
  td.textContent = text === null || text === undefined ? "–" : String(text);
  if (cls) td.className = cls;
  return td;
}

function fill(tableId, rows, render) {
  const body = $(tableId).tBodies[0];
  body.replaceChildren();
  for (const item of rows) render(body.insertRow(), item);
}

function state(ok) { return ok ? ["up", "ok"] : ["down", "bad"]; }

function circuitCell(row, circuit) {
  if (!circuit) return cell(row, null);
  const cls = circuit.state === "closed" ? "ok" : circuit.state === "open" ? "bad" : "warn";
  return cell(row, circuit.state.replace("_", "-"), cls);
}

function showRoutes(data) {
  const circuits = (data.circuits && !data.circuits.error) ? data.circuits : {};
  const latency = (data.latency && !data.latency.error) ? data.latency : {};
  fill("routes", data.routes.services || [], (row, s) => {
    row.dataset.service = s.service;
    cell(row, s.service);
    cell(row, s.adapter);
    const [text, cls] = state(s.ok);
    cell(row, text, cls);
    circuitCell(row, circuits[s.adapter]);
    const seen = latency[s.adapter] || {};
    cell(row, seen.p50_ms);
    cell(row, seen.error_rate === undefined ? null : `${(100 * seen.error_rate).toFixed(1)} %`);
    cell(row, s.detail);
  });
}

function showFailures(data) {
  const failures = (data.failures && Array.isArray(data.failures.recent)) ? data.failures.recent : [];
  $("failures-none").hidden = failures.length > 0;
  fill("failures", failures, (row, f) => {
    row.dataset.id = f.id;
    cell(row, f.at);
    cell(row, f.channel);
    cell(row, f.route);
    const id = cell(row, f.control_id || f.id);
    id.className = "trace-link";
    cell(row, f.reason, "bad");
    cell(row, f.state);
    const actions = row.insertCell();
    const trace = document.createElement("button");
    trace.textContent = "Trace";
    trace.addEventListener("click", () => { $("trace-id").value = f.control_id || f.id; runTrace(); });
    actions.append(trace);
    if (f.replayable) {
      const replay = document.createElement("button");
      replay.textContent = "Replay";
      replay.className = "replay";
      replay.addEventListener("click", () => doReplay(f.id, replay));
      actions.append(" ", replay);
    }
  });
}

function showQueues(data) {
  const inDoubt = data.in_doubt || {};
  $("in-doubt-count").textContent = inDoubt.count === undefined ? "–" : String(inDoubt.count);
  fill("in-doubt", inDoubt.oldest || [], (row, c) => {
    cell(row, c.scope); cell(row, c.request_id); cell(row, c.lease_left_s);
  });
  const queues = Object.entries((data.backlogs && !data.backlogs.error) ? data.backlogs : {});
  fill("backlogs", queues, (row, [name, q]) => {
    cell(row, name);
    if (!q) { cell(row, "not configured").colSpan = 4; return; }
    cell(row, q.pending); cell(row, q.stuck, q.stuck ? "warn" : null);
    cell(row, q.refused, q.refused ? "bad" : null); cell(row, q.oldest_pending_age_s);
  });
}

async function refresh() {
  try {
    const data = await call("/admin/dashboard/data");
    $("summary").textContent =
      `version ${data.version} · mapping generation ${data.routes.generation} ` +
      `(${data.routes.mapping_version}) · updated ${new Date(data.at).toLocaleTimeString()}`;
    showRoutes(data);
    showFailures(data);
    showQueues(data);
  } catch (error) {
    if (error.status === 403) return logout("the admin token was refused");
    $("summary").textContent = `not updated: ${error.message}`;
  }
}

async function runTrace() {
  const id = $("trace-id").value.trim();
  $("trace-error").textContent = "";
  if (!id) return;
  try {
    const journey = await call(`/admin/trace/${encodeURIComponent(id)}`);
    $("trace").hidden = false;
    fill("trace", journey.hops || [], (row, h) => {
      cell(row, h.seq); cell(row, h.at); cell(row, h.kind); cell(row, h.place);
      cell(row, h.outcome, /fail|reject|error/.test(h.outcome || "") ? "bad" : null);
      cell(row, h.latency_ms);
      const ids = cell(row, "");
      const code = document.createElement("code");
      code.textContent = Object.entries(h.ids || {}).map(([k, v]) => `${k}=${v}`).join(" ");
      ids.append(code);
    });
  } catch (error) {
    $("trace").hidden = true;
    $("trace-error").textContent = error.status === 404 ? `no journey knows ${id}` : error.message;
  }
}

async function doReplay(id, button) {
  button.disabled = true;
  button.textContent = "Replaying…";
  try {
    const result = await call("/admin/replay", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ ids: [id] }),
    });
    const outcome = (result.results || []).find((r) => r.id === id) || {};
    button.textContent = outcome.result === "error"
      ? `Not replayed: ${outcome.reason}` : `Replayed: ${outcome.after || outcome.result}`;
  } catch (error) {
    button.textContent = `Replay failed: ${error.message}`;
  }
  await refresh();
}

function logout(reason) {
  sessionStorage.removeItem("uec-admin-token");
  token = null;
  clearInterval(timer);
  $("board").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = reason || "";
  $("summary").textContent = "not connected";
}

async function connect() {
  $("login").hidden = true;
  $("board").hidden = false;
  await refresh();
  if (token) timer = setInterval(refresh, POLL_MS);
}

document.addEventListener("DOMContentLoaded", () => {
  $("login").addEventListener("submit", (event) => {
    event.preventDefault();
    token = $("token").value;
    sessionStorage.setItem("uec-admin-token", token);
    connect();
  });
  $("trace-form").addEventListener("submit", (event) => { event.preventDefault(); runTrace(); });
  if (token) connect();
});
