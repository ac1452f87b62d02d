// web/app.js — the analyst console: sign-in, dashboard (timeline and
// breakdowns), login attempts with search and paging, alerts with live
// arrival over the WebSocket (/api/ws) and triage, a page per user (profile,
// attempts, alerts, the analyst's mark), phishing analyses, rules, models.
// Plain DOM, no inline script (the Content-Security-Policy forbids it), no
// framework.
"use strict";

const state = { token: sessionStorage.getItem("riskd.token"), user: null, ws: null, alerts: new Map(), current: null,
                pages: {}, charts: {} };
const $ = (sel) => document.querySelector(sel);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c == null ? "" : String(c)));
  return e;
}

async function api(method, path, body) {
  const headers = { "Content-Type": "application/json" };
  if (state.token) headers.Authorization = "Bearer " + state.token;
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = r.status === 204 ? null : await r.json();
  if (r.status === 401) { signOut(); throw new Error(data.error.message); }
  if (!r.ok) throw new Error(data.error ? data.error.message : "HTTP " + r.status);
  return data;
}

function when(iso) { return iso ? new Date(iso).toLocaleString() : ""; }

// Numbers for people: counts grouped, scores to one decimal, rates to two.
function count(n) { return n == null ? "–" : Number(n).toLocaleString(); }
function score(x) { return x == null ? "–" : (Math.round(Number(x) * 10) / 10).toFixed(1); }

// A user's name as a link to the user's page.
function userLink(id) { return el("a", { href: "#user/" + encodeURIComponent(id) }, id); }

// A datetime-local value (the analyst's local time) as ISO 8601 in UTC.
function isoOf(local) { return local ? new Date(local).toISOString() : ""; }

// Paged lists: state.pages[name] = {page, per_page, total}; a pager's
// buttons move by one page and reload.
const PER_PAGE = 20;
function pager(name, total, load) {
  const p = state.pages[name] || (state.pages[name] = { page: 1 });
  p.total = total;
  const last = Math.max(1, Math.ceil(total / PER_PAGE));
  const box = $("#" + name + "-pager");
  box.querySelector("span").textContent = `page ${p.page} of ${last} (${count(total)})`;
  box.querySelector('[data-step="-1"]').disabled = p.page <= 1;
  box.querySelector('[data-step="1"]').disabled = p.page >= last;
  box.onclick = (e) => {
    const step = Number(e.target.dataset && e.target.dataset.step);
    if (!step) return;
    p.page = Math.min(last, Math.max(1, p.page + step));
    load();
  };
}
function pageOf(name) { return (state.pages[name] || (state.pages[name] = { page: 1 })).page; }

// ---- pages -------------------------------------------------------------------

function show(page) {
  for (const s of document.querySelectorAll("main > section")) s.hidden = s.id !== page;
  $("#nav").hidden = page === "signin";
  if (page === "dashboard") loadDashboard();
  if (page === "events") loadEvents();
  if (page === "phishing") loadPhishing();
  if (page === "alerts") loadAlerts();
  if (page === "rules") loadRules();
  if (page === "models") loadModels();
}

const PAGES = ["dashboard", "events", "alerts", "phishing", "rules", "models"];

function route() {
  if (!state.token) return show("signin");
  const page = (location.hash || "#dashboard").slice(1);
  if (page.startsWith("event/")) return showEvent(decodeURIComponent(page.slice(6)));
  if (page.startsWith("user/")) return showUser(decodeURIComponent(page.slice(5)));
  show(PAGES.includes(page) ? page : "dashboard");
}

async function signIn(ev) {
  ev.preventDefault();
  const f = new FormData(ev.target);
  $("#signin-error").textContent = "";
  try {
    const d = await api("POST", "/api/auth/login", { username: f.get("username"), password: f.get("password") });
    state.token = d.token;
    sessionStorage.setItem("riskd.token", d.token);
    ev.target.reset();
    start();
  } catch (e) {
    $("#signin-error").textContent = e.message;
  }
}

function signOut() {
  state.token = null;
  sessionStorage.removeItem("riskd.token");
  if (state.ws) state.ws.close();
  state.ws = null;
  show("signin");
}

async function loadDashboard() {
  const [hours, bucket] = $("#timeline-range").value.split(":");
  const [stats, top, tl, bd] = await Promise.all([api("GET", "/api/dashboard/stats"), api("GET", "/api/dashboard/top-risks?hours=24"),
                                                 api("GET", `/api/dashboard/timeline?hours=${hours}&bucket=${bucket}`),
                                                 api("GET", "/api/dashboard/breakdown?hours=24")]);
  drawTimeline(tl, Number(hours));
  drawBreakdowns(bd);
  const a = stats.total, d = stats.last_24h;
  const cards = [["Attempts", count(a.attempts)], ["Anomalies", count(a.anomalies)], ["Open alerts", count((a.alerts_by_status || {}).open || 0)],
                 ["Attempts 24 h", count(d.attempts)], ["Anomaly rate 24 h", (100 * d.anomaly_rate).toFixed(2) + " %"]];
  $("#stats").replaceChildren(...cards.map(([k, v]) => el("div", { class: "card" }, k, el("b", {}, v ?? "–"))));
  const rows = top.users.map((u) =>
    el("tr", {}, el("td", {}, userLink(u.user_id)), el("td", { class: "num" }, score(u.max_risk)), el("td", { class: "num" }, score(u.mean_risk)),
       el("td", { class: "num" }, count(u.attempts)), el("td", { class: "num" }, count(u.high_risk))));
  $("#top-risks tbody").replaceChildren(...rows);
}

// The last day's attempts by level, country and rule, as bar charts beside
// the timeline, and the same numbers in a table for screen readers.
const LEVEL_COLORS = { low: "#2e7d32", medium: "#b26a00", high: "#c62828", critical: "#7b1fa2" };
function drawBreakdowns(bd) {
  $("#breakdown-note").textContent = bd.sampled ? `The newest ${count(bd.counted)} attempts of the last 24 hours.`
    : `${count(bd.counted)} attempts in the last 24 hours.`;
  const parts = [["by-level", "level", bd.levels], ["by-country", "country", bd.countries], ["by-rule", "rule", bd.rules]];
  $("#breakdown-table tbody").replaceChildren(...parts.flatMap(([, field, items]) =>
    items.map((x) => el("tr", {}, el("td", {}, field), el("td", {}, x[field] || "unknown"), el("td", {}, count(x.attempts))))));
  if (!window.Chart) return;
  for (const [id, field, items] of parts) {
    const data = {
      labels: items.map((x) => x[field] || "unknown"),
      datasets: [{ label: "attempts", data: items.map((x) => x.attempts),
                   backgroundColor: items.map((x) => (field === "level" && LEVEL_COLORS[x.level]) || "#9db8e3") }],
    };
    if (state.charts[id]) { state.charts[id].data = data; state.charts[id].update("none"); continue; }
    state.charts[id] = new window.Chart($("#" + id), {
      type: "bar", data,
      options: { indexAxis: "y", responsive: true, maintainAspectRatio: false, animation: false,
                 plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } },
    });
  }
}

// ---- login attempts ---------------------------------------------------------------

function eventRow(e) {
  return el("tr", {}, el("td", {}, el("a", { href: "#event/" + encodeURIComponent(e.event_id) }, when(e.timestamp))),
            el("td", {}, userLink(e.user_id)), el("td", {}, e.ip_address), el("td", {}, (e.location || {}).country || ""),
            el("td", { class: "num" }, score(e.risk_score)), el("td", { class: "sev-" + e.risk_level }, e.risk_level),
            el("td", {}, e.action || ""), el("td", {}, (e.rules || []).map((r) => r.name).join(", ")));
}

async function loadEvents() {
  const f = new FormData($("#event-filters"));
  const q = new URLSearchParams();
  for (const [k, v] of f) if (v) q.set(k, k === "since" || k === "until" ? isoOf(v) : k === "country" ? v.toUpperCase() : v);
  if ((q.get("country") || q.get("rule")) && !q.get("since")) q.set("since", new Date(Date.now() - 7 * 86400000).toISOString());
  q.set("page", pageOf("event"));
  q.set("per_page", PER_PAGE);
  const d = await api("GET", "/api/login/events?" + q);
  $("#event-list tbody").replaceChildren(...d.events.map(eventRow));
  pager("event", d.total, loadEvents);
}

// The timeline as a chart (Chart.js, from npm via `make deps`, served from
// web/vendor/): bars of attempts, lines of anomalies and alerts, mean risk on
// its own axis. Buckets without attempts are not stored: they are drawn as 0.
// The same numbers go into a table that screen readers read (and everyone,
// when the chart library is missing).
function timelineBuckets(tl, hours) {
  const step = tl.bucket === "day" ? 86400000 : 3600000;
  const byStart = new Map(tl.buckets.map((b) => [Date.parse(b.start), b]));
  const last = Math.floor(Date.now() / step) * step;
  const out = [];
  for (let t = last - (Math.ceil(hours * 3600000 / step) - 1) * step; t <= last; t += step)
    out.push(byStart.get(t) || { start: new Date(t).toISOString(), attempts: 0, failures: 0, anomalies: 0, alerts: 0, mean_risk: 0 });
  return out;
}

function drawTimeline(tl, hours) {
  const buckets = timelineBuckets(tl, hours);
  const label = (b) => { const d = new Date(b.start);
    return tl.bucket === "day" ? d.toLocaleDateString() : d.toLocaleString([], { month: "numeric", day: "numeric", hour: "2-digit" }); };
  $("#timeline-table tbody").replaceChildren(...buckets.filter((b) => b.attempts > 0).map((b) =>
    el("tr", {}, el("td", {}, label(b)), el("td", {}, b.attempts), el("td", {}, b.failures), el("td", {}, b.anomalies),
       el("td", {}, b.alerts), el("td", {}, b.mean_risk))));
  const box = $("#timeline-chart").parentElement;
  if (!window.Chart) { box.classList.add("none"); return; }
  const data = {
    labels: buckets.map(label),
    datasets: [
      { type: "bar", label: "Attempts", data: buckets.map((b) => b.attempts), backgroundColor: "#9db8e3", yAxisID: "y" },
      { type: "line", label: "Anomalies", data: buckets.map((b) => b.anomalies), borderColor: "#c62828", backgroundColor: "#c62828", yAxisID: "y", pointRadius: 2 },
      { type: "line", label: "Alerts", data: buckets.map((b) => b.alerts), borderColor: "#7b1fa2", backgroundColor: "#7b1fa2", yAxisID: "y", pointRadius: 2 },
      { type: "line", label: "Mean risk", data: buckets.map((b) => b.mean_risk), borderColor: "#b26a00", backgroundColor: "#b26a00", borderDash: [4, 3], yAxisID: "risk", pointRadius: 0 },
    ],
  };
  if (state.chart) {   // update in place: a live refresh does not flicker
    state.chart.data = data;
    state.chart.update("none");
    return;
  }
  state.chart = new window.Chart($("#timeline-chart"), {
    data,
    options: {
      responsive: true, maintainAspectRatio: false, animation: false, interaction: { mode: "index", intersect: false },
      scales: { y: { beginAtZero: true, title: { display: true, text: "count" } },
                risk: { position: "right", min: 0, max: 100, grid: { drawOnChartArea: false }, title: { display: true, text: "mean risk" } } },
    },
  });
}

function alertRow(a, fresh) {
  const tr = el("tr", { tabindex: "0", "data-id": a.alert_id, class: fresh ? "new" : "" },
    el("td", {}, when(a.created_at)), el("td", {}, userLink(a.user_id)), el("td", { class: "sev-" + a.severity }, a.severity),
    el("td", {}, a.cause), el("td", { class: "status" }, a.status), el("td", {}, a.event_count ?? ""));
  tr.addEventListener("click", () => openAlert(a.alert_id));
  tr.addEventListener("keydown", (e) => { if (e.key === "Enter") openAlert(a.alert_id); });
  return tr;
}

async function loadAlerts() {
  const f = new FormData($("#alert-filters"));
  const q = new URLSearchParams();
  for (const [k, v] of f) if (v) q.set(k, k === "since" || k === "until" ? isoOf(v) : v);
  q.set("page", pageOf("alert"));
  q.set("per_page", PER_PAGE);
  const d = await api("GET", "/api/dashboard/alerts?" + q);
  state.alerts = new Map(d.alerts.map((a) => [a.alert_id, a]));
  $("#alert-list tbody").replaceChildren(...d.alerts.map((a) => alertRow(a, false)));
  pager("alert", d.total, loadAlerts);
}

// ---- one user -----------------------------------------------------------------------

const STATE_WORDS = { at_risk: "at risk", compromised: "compromised", safe: "safe" };

async function showUser(id) {
  for (const s of document.querySelectorAll("main > section")) s.hidden = s.id !== "user";
  $("#nav").hidden = false;
  state.userPage = id;
  const q = encodeURIComponent(id);
  const [p, ev, al] = await Promise.all([
    api("GET", "/api/users/" + q + "/profile").catch((e) => ({ missing: e.message })),
    api("GET", "/api/login/events?per_page=20&user_id=" + q), api("GET", "/api/dashboard/alerts?per_page=20&user_id=" + q)]);
  $("#user-title").textContent = "User " + id;
  if (p.missing) {
    $("#user-cards").replaceChildren(el("p", { class: "muted" }, p.missing));
  } else {
    const cards = [["Attempts", count(p.attempts)], ["Successes", count(p.successes)], ["Failures", count(p.failures)],
                   ["At high or critical", count(p.high_risk)], ["Highest risk", score(p.max_risk)], ["Mean risk", score(p.mean_risk)],
                   ["First seen", when(p.first_seen_at)], ["Last seen", when(p.last_seen_at)]];
    $("#user-cards").replaceChildren(...cards.map(([k, v]) => el("div", { class: "card" }, k, el("b", {}, v))));
    const rows = (items, key) => items.map((x) => el("tr", {}, el("td", {}, x[key]), el("td", { class: "num" }, count(x.logins)), el("td", {}, when(x.last_seen_at))));
    $("#user-devices tbody").replaceChildren(...rows(p.devices, "device_id"));
    $("#user-countries tbody").replaceChildren(...rows(p.countries, "country"));
    $("#user-networks tbody").replaceChildren(...rows(p.networks, "network"));
    const max = Math.max(1, ...p.habits.hours_utc);
    $("#user-hours").replaceChildren(...p.habits.hours_utc.map((n, h) => {
      const b = el("div", { class: "hour", role: "listitem", "aria-label": `${h}:00 ${n} logins`, title: `${h}:00: ${n}` });
      b.style.height = (100 * n / max).toFixed(0) + "%";
      return b;
    }));
    const rs = p.risk_state;
    $("#user-state-now").textContent = rs ? `Marked ${STATE_WORDS[rs.state]} by ${rs.set_by}, ${when(rs.set_at)}.` : "No analyst's mark.";
  }
  $("#user-events tbody").replaceChildren(...ev.events.map((e) =>
    el("tr", {}, el("td", {}, el("a", { href: "#event/" + encodeURIComponent(e.event_id) }, when(e.timestamp))), el("td", {}, e.ip_address),
       el("td", {}, (e.location || {}).country || ""), el("td", { class: "num" }, score(e.risk_score)),
       el("td", { class: "sev-" + e.risk_level }, e.risk_level), el("td", {}, e.action || ""))));
  $("#user-alerts tbody").replaceChildren(...al.alerts.map((a) =>
    el("tr", {}, el("td", {}, when(a.created_at)), el("td", { class: "sev-" + a.severity }, a.severity), el("td", {}, a.cause),
       el("td", {}, a.status))));
}

async function markUser(ev) {
  const s = ev.target.dataset && ev.target.dataset.state;
  if (s === undefined) return;
  try {
    await api("PUT", "/api/users/" + encodeURIComponent(state.userPage) + "/state", { state: s || null });
  } catch (e) {
    $("#user-state-now").textContent = e.message;
    return;
  }
  showUser(state.userPage);
}

// ---- phishing -------------------------------------------------------------------------

async function loadPhishing() {
  const f = new FormData($("#phish-filters"));
  const q = new URLSearchParams();
  for (const [k, v] of f) if (v) q.set(k, k === "since" ? isoOf(v) : v);
  q.set("page", pageOf("phish"));
  q.set("per_page", PER_PAGE);
  const d = await api("GET", "/api/phishing/events?" + q);
  $("#phish-list tbody").replaceChildren(...d.events.map((r) => {
    const tr = el("tr", { tabindex: "0" }, el("td", {}, when(r.timestamp)), el("td", { class: "verdict-" + r.verdict }, r.verdict),
                  el("td", { class: "num" }, score(r.score)), el("td", {}, r.from || ""), el("td", {}, r.subject || ""));
    const open = () => {
      $("#phish-detail").hidden = false;
      $("#phish-title").textContent = `${r.verdict} (${score(r.score)}): ${r.subject || "(no subject)"}`;
      $("#phish-reasons").replaceChildren(...(r.reasons || []).map((x) => el("li", {}, x)));
    };
    tr.addEventListener("click", open);
    tr.addEventListener("keydown", (e) => { if (e.key === "Enter") open(); });
    return tr;
  }));
  pager("phish", d.total, loadPhishing);
}

async function openAlert(id) {
  const a = await api("GET", "/api/dashboard/alerts/" + encodeURIComponent(id));
  state.current = a.alert_id;
  $("#alert-detail").hidden = false;
  $("#alert-title").textContent = `${a.severity} alert for ${a.user_id}: ${a.cause} (${a.status})`;
  $("#alert-reasons").textContent = (a.reasons || []).join("; ");
  $("#alert-history").replaceChildren(...a.history.map((h) => el("li", {}, `${when(h.at)} ${h.status} by ${h.by}${h.note ? ": " + h.note : ""}`)));
  $("#alert-events").replaceChildren(...a.events.map((e) =>
    el("li", {}, el("a", { href: "#event/" + encodeURIComponent(e.event_id) }, `${when(e.timestamp)} ${e.ip_address} risk ${score(e.risk_score)} (${e.risk_level})`))));
  $("#triage-result").textContent = "";
}

async function triage(ev) {
  ev.preventDefault();
  const f = new FormData(ev.target);
  try {
    await api("PUT", "/api/dashboard/alerts/" + encodeURIComponent(state.current), { status: f.get("status"), note: f.get("note") || undefined });
    $("#triage-result").textContent = "saved";
    openAlert(state.current);
  } catch (e) {
    $("#triage-result").textContent = e.message;
  }
}

// One attempt: its rules and the model's per-feature explanation as bars
// (red raises the anomaly score, green lowers it).
async function showEvent(id) {
  for (const s of document.querySelectorAll("main > section")) s.hidden = s.id !== "event";
  $("#nav").hidden = false;
  const [e, x] = await Promise.all([api("GET", "/api/login/events/" + encodeURIComponent(id)),
                                    api("GET", "/api/login/events/" + encodeURIComponent(id) + "/explain")]);
  $("#event-title").replaceChildren("Attempt by ", userLink(e.user_id), ` at ${when(e.timestamp)}`);
  $("#event-summary").textContent = `${e.ip_address}: risk ${score(e.risk_score)} (${e.risk_level}), ${e.action}; anomaly score ${Number(e.anomaly_score).toFixed(3)}`;
  $("#event-rules tbody").replaceChildren(...(x.rules || []).map((r) =>
    el("tr", {}, el("td", {}, r.name), el("td", { class: "num" }, score(r.score)), el("td", {}, r.reason || ""))));
  const bars = $("#event-explain");
  if (!x.contributions) {
    $("#event-expected").textContent = "No model is loaded: the score came from the rules alone.";
    bars.replaceChildren();
    return;
  }
  $("#event-expected").textContent = x.expected_score != null ? `Baseline score ${x.expected_score.toFixed(4)}; each bar moves it.` : "";
  const items = Object.entries(x.contributions).sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]));
  const max = Math.max(1e-9, ...items.map(([, v]) => Math.abs(v)));
  bars.replaceChildren(...items.flatMap(([name, v]) => {
    const bar = el("div", { class: "bar" + (v < 0 ? " neg" : ""), role: "listitem", "aria-label": `${name} ${v.toFixed(4)}` });
    bar.style.width = (100 * Math.abs(v) / max).toFixed(1) + "%";
    return [el("span", {}, name), el("div", {}, bar), el("span", { class: "num" }, v.toFixed(4))];
  }));
}

async function loadRules() {
  const d = await api("GET", "/api/admin/rules");
  // files that do not load: what is wrong, and what serves in their place
  const serving = { previous: "its last good version serves", history: "a saved version serves", none: "left out" };
  $("#rule-broken").replaceChildren(...(d.broken || []).map((b) => {
    const file = b.file.split("/").pop().replace(/\.lua$/, "");
    const li = el("li", { class: "error" }, el("button", { type: "button", onclick: () => openRule(file) }, b.file),
                  ` ${serving[b.serving] || b.serving}: ${b.error}`);
    return li;
  }));
  $("#rule-broken").hidden = !(d.broken && d.broken.length);
  // the thresholds in force: calibrated from recent scores, or config.lua's while warming up
  const lv = d.levels;
  $("#rule-levels").textContent = lv ? `Levels now: medium from ${lv.medium}, high from ${lv.high.toFixed(2)}, critical from ${lv.critical.toFixed(2)} — ` +
    (lv.calibrated ? `calibrated on ${lv.attempts} recent attempts.` : `config.lua's, until the calibration has its history (${lv.attempts} attempts so far).`) : "";
  $("#rule-list tbody").replaceChildren(...d.rules.map((r) => {
    const file = (r.file || r.name + ".lua").split("/").pop().replace(/\.lua$/, "");
    const tr = el("tr", { tabindex: "0", "data-rule": file }, el("td", {}, r.name), el("td", {}, r.family || ""), el("td", {}, r.description),
      el("td", { class: "num" }, r.hits), el("td", { class: "num" }, r.errors), el("td", { class: "error" }, r.last_error || ""));
    tr.addEventListener("click", () => openRule(file));
    tr.addEventListener("keydown", (e) => { if (e.key === "Enter") openRule(file); });
    return tr;
  }));
}

// The rule's source in an editor; saving is refused with the line when it
// does not compile; every saved version can be seen (its diff) and restored.
async function openRule(name) {
  const d = await api("GET", "/api/admin/rules/" + encodeURIComponent(name) + "/source");
  state.rule = name;
  $("#rule-editor").hidden = false;
  $("#rule-title").textContent = d.file;
  $("#rule-form textarea").value = d.source;
  $("#rule-result").textContent = "";
  $("#rule-history").replaceChildren(...d.history.slice().reverse().map((v) => {
    const restore = el("button", { type: "button", onclick: () => restoreRule(v.version) }, "Restore");
    return el("li", { value: v.version }, `version ${v.version}, ${when(v.saved_at)} by ${v.by}${v.note ? " (" + v.note + ")" : ""} `,
              restore, el("pre", { class: "diff" }, v.diff || ""));
  }));
}

async function saveRule(ev) {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const r = await fetch("/api/admin/rules/" + encodeURIComponent(state.rule) + "/source", {
    method: "PUT", headers: { "Content-Type": "application/json", Authorization: "Bearer " + state.token },
    body: JSON.stringify({ source: f.get("source"), note: f.get("note") || undefined }),
  });
  const d = await r.json();
  if (!r.ok) {
    $("#rule-result").textContent = (r.status === 504 ? "" : "refused: ") + d.error.message;
    return;
  }
  await openRule(state.rule);
  $("#rule-result").textContent = d.unchanged ? "no change to save" : `version ${d.version} is live`;
  loadRules();
}

async function restoreRule(version) {
  const d = await api("POST", "/api/admin/rules/" + encodeURIComponent(state.rule) + "/restore", { version });
  await openRule(state.rule);
  $("#rule-result").textContent = `version ${version} restored as version ${d.version}`;
}

async function loadModels() {
  const d = await api("GET", "/api/admin/models");
  const live = d.models.find((m) => m.active);
  $("#model-list tbody").replaceChildren(...d.models.map((m) => {
    const auc = m.metrics && m.metrics.pipeline_auc != null ? m.metrics.pipeline_auc : (m.metrics && (m.metrics.auc ?? m.metrics.forest_auc));
    // an older version than the live one is a roll back
    const older = live && m.modified_at < live.modified_at;
    const act = m.active ? el("span", {}, "live")
      : m.login === false ? el("span", {}, "not a login model")
      : el("button", { type: "button", onclick: async () => { await api("PUT", "/api/admin/models/" + encodeURIComponent(m.version)); loadModels(); } },
           older ? "Roll back to this" : "Activate");
    return el("tr", {}, el("td", {}, m.version), el("td", {}, when(m.modified_at)),
              el("td", { class: "num" }, auc != null ? Number(auc).toFixed(4) : "–"), el("td", { class: "num" }, m.train_rows ?? ""), el("td", {}, act));
  }));
}

async function retrain() {
  const status = $("#retrain-status");
  try {
    const job = await api("POST", "/api/admin/model/retrain", {});
    status.textContent = "retraining…";
    const bar = $("#retrain-progress");
    bar.hidden = false;
    bar.value = 0;
    const poll = async () => {
      const s = await api("GET", job.status_url);
      bar.value = s.progress ?? bar.value;
      status.textContent = s.status === "running" ? `${s.phase || "running"}${s.rows != null ? ` (${s.rows} events)` : ""}…`
        : s.status === "done" ? `done: ${s.version}, ${s.reason || ""}` : `${s.status}: ${s.error || s.reason || ""}`;
      if (s.status === "running") setTimeout(poll, 1000); else loadModels();
    };
    setTimeout(poll, 1000);
  } catch (e) {
    status.textContent = e.message;
  }
}

// ---- the real-time feed ---------------------------------------------------------

function connect() {
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/ws");
  state.ws = ws;
  ws.onopen = () => ws.send(JSON.stringify({ type: "auth", token: state.token }));
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.type === "auth") {
      state.user = msg.data;
      $("#who").textContent = `${msg.data.user} (${msg.data.role})`;
      for (const a of document.querySelectorAll("nav .admin")) a.hidden = msg.data.role !== "admin";
      $("#live").textContent = "live";
      $("#live").classList.add("on");
      ws.send(JSON.stringify({ type: "subscribe", topic: "alerts" }));
    } else if (msg.topic === "alerts" && msg.data) {
      onAlert(msg);
    }
  };
  ws.onclose = () => {
    $("#live").textContent = "offline";
    $("#live").classList.remove("on");
    if (state.token && state.ws === ws) setTimeout(connect, 2000);   // reconnect
  };
}

function onAlert(msg) {
  const d = msg.data;
  const body = $("#alert-list tbody");
  const existing = body.querySelector(`tr[data-id="${CSS.escape(d.alert_id)}"]`);
  if (msg.type === "created" && !existing) {
    body.prepend(alertRow({ alert_id: d.alert_id, created_at: msg.ts, user_id: d.user_id, severity: d.severity, cause: d.cause,
                            status: d.status || "open", event_count: 1 }, true));
  } else if (existing && msg.type === "status_changed") {
    existing.querySelector(".status").textContent = d.status;
  }
  if (!$("#dashboard").hidden) loadDashboard();
  if (state.current === d.alert_id && !$("#alerts").hidden) openAlert(d.alert_id);
}

function start() {
  connect();
  route();
}

$("#signin-form").addEventListener("submit", signIn);
$("#signout").addEventListener("click", signOut);
$("#timeline-range").addEventListener("change", loadDashboard);
$("#alert-filters").addEventListener("submit", (e) => { e.preventDefault(); state.pages.alert = { page: 1 }; loadAlerts(); });
$("#event-filters").addEventListener("submit", (e) => { e.preventDefault(); state.pages.event = { page: 1 }; loadEvents(); });
$("#phish-filters").addEventListener("submit", (e) => { e.preventDefault(); state.pages.phish = { page: 1 }; loadPhishing(); });
$("#user-state").addEventListener("click", markUser);
$("#triage").addEventListener("submit", triage);
$("#retrain").addEventListener("click", retrain);
$("#rule-form").addEventListener("submit", saveRule);
$("#edit-config").addEventListener("click", () => openRule("config"));
window.addEventListener("hashchange", route);
if (state.token) start(); else show("signin");
