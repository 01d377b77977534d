// The lobby manager's live dashboard: counters, queues, open alerts, today's figures and a chart.
//
// State comes from the Socket.IO snapshot and the events after it; the headline figures and the
// chart come from the daily report, fetched every minute and shortly after activity. Every
// "how long" on screen is measured on the server's clock (live.js), re-synced whenever the server
// tells us its time, so a branch on a manual clock (tests, demos) shows the right durations.

import { api } from "/static/js/api.js";
import { createI18n } from "/static/js/i18n.js";
import { connectLive } from "/static/js/live.js";
import { clockDuration } from "/static/js/format.js";
import { createWords } from "/static/js/vocabulary.js";
import { MESSAGES } from "./messages.js";
import { logOut, signIn, wireLanguageToggle } from "./session.js";
import { el } from "/static/js/dom.js";
import { isMuted, playAlarm, setMuted, unlockAudio } from "./sound.js";
import { colourOf, waitingChart } from "./charts.js";

const REPORT_EVERY_MS = 60_000;
const REPORT_AFTER_ACTIVITY_MS = 4_000;
const SEVERITY_RANK = { critical: 2, warning: 1 };

const $ = (id) => document.getElementById(id);

const state = {
  token: null,
  me: null,
  branch: null,
  timeZone: "Asia/Shanghai",
  live: null,
  services: [], // [{code, name, waiting, estimated_wait_s, target_wait_s}] in display order
  counters: new Map(), // number -> counter
  waiting: new Map(), // ticket id -> {service, issued_at}
  alerts: new Map(), // id -> alert
  report: null,
  snapshots: 0,
  reportTimer: null,
};

let i18n = createI18n(MESSAGES, ["zh", "en"], "callwise.manager.lang");
// States, pause reasons, severities and rules: the branch's vocabulary (GET /api/v1/branch).
const words = createWords(() => state.branch?.vocabulary, (text) => i18n.pick(text));
let chart = null;

// --- small helpers ------------------------------------------------------------------------------

function percent(share) {
  return share == null ? i18n.t("none") : `${(share * 100).toFixed(share >= 0.9995 || share === 0 ? 0 : 1)}%`;
}

function duration(seconds) {
  return seconds == null ? i18n.t("none") : clockDuration(seconds);
}

function minutesText(seconds) {
  return i18n.t("minutes_short", { m: Math.max(0, Math.round(seconds / 60)) });
}

function since(iso) {
  return state.live ? state.live.clock.secondsSince(iso) : 0;
}

/** The server told us a time: if it is ahead of our idea of its clock, catch up (manual clocks jump). */
function sawServerTime(...stamps) {
  if (!state.live) return;
  for (const iso of stamps) {
    if (iso && Date.parse(iso) > state.live.clock.now() + 500) state.live.clock.sync(iso);
  }
}

function showError(text) {
  const box = $("error");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(showError.timer);
  showError.timer = setTimeout(() => { box.hidden = true; }, 8000);
}

function serviceName(code) {
  const service = state.services.find((s) => s.code === code);
  return service ? i18n.pick(service.name) : code;
}

// --- start --------------------------------------------------------------------------------------

async function main() {
  try {
    state.branch = await api("/branch");
    state.timeZone = state.branch.timezone || state.timeZone;
    i18n = createI18n(MESSAGES, state.branch.languages, "callwise.manager.lang");
  } catch (error) {
    showError(i18n.t("err_network"));
  }
  i18n.apply();
  wireLanguageToggle($("lang-toggle"), i18n);
  $("lang-toggle").hidden = i18n.languages.length < 2;
  i18n.onChange(() => {
    document.title = `${i18n.t("page_title")} · Callwise`;
    renderAll();
    renderSound();
  });
  document.title = `${i18n.t("page_title")} · Callwise`;
  showBranchName();

  await signIn({
    section: $("view-login"), i18n, onLoggedIn: start, onError: showError,
    onLoginShown() {
      $("view-loading").hidden = true;
      $("view-dashboard").hidden = true;
    },
  });
}

function showBranchName() {
  $("branch-name").textContent = state.branch ? i18n.pick(state.branch.name) : "";
}

function start({ token, me }) {
  state.token = token;
  state.me = me;
  $("view-loading").hidden = true;
  $("view-login").hidden = true;
  $("view-dashboard").hidden = false;
  for (const id of ["live", "sound-toggle", "report-link", "who", "logout", "server-clock"]) $(id).hidden = false;
  $("who").textContent = me.name;
  $("logout").addEventListener("click", async () => {
    if (state.live) state.live.close();
    await logOut(state.token);
    window.location.reload();
  });
  $("sound-toggle").addEventListener("click", () => {
    setMuted(!isMuted());
    unlockAudio();
    renderSound();
  });
  renderSound();
  for (const type of ["pointerdown", "keydown"]) document.addEventListener(type, unlockAudio, { once: true });

  chart = waitingChart($("waiting-chart"), { height: 210 });
  state.live = connectLive({
    auth: { token },
    onSnapshot,
    onStatus: renderStatus,
    on: {
      counter_changed: onCounterChanged,
      queue_changed: onQueueChanged,
      ticket_changed: onTicketChanged,
      ticket_called: (call) => sawServerTime(call.called_at),
      alert_raised: onAlertRaised,
      alert_changed: onAlertChanged,
      alert_resolved: onAlertResolved,
    },
  });
  loadReport();
  setInterval(loadReport, REPORT_EVERY_MS);
  setInterval(tick, 1000);
}

// --- live state ---------------------------------------------------------------------------------

function onSnapshot(snapshot) {
  const known = new Set(state.alerts.keys());
  state.services = snapshot.services || [];
  state.counters = new Map((snapshot.counters || []).map((c) => [c.number, c]));
  state.waiting = new Map();
  for (const queue of snapshot.queue || []) {
    for (const ticket of queue.tickets || []) state.waiting.set(ticket.id, { service: queue.code, issued_at: ticket.issued_at });
  }
  state.alerts = new Map((snapshot.alerts || []).map((a) => [a.id, a]));
  // After a reconnect, a critical alert raised while we were away still deserves the sound.
  if (state.snapshots > 0 && [...state.alerts.values()].some((a) => a.severity === "critical" && !known.has(a.id))) {
    playAlarm();
  }
  state.snapshots += 1;
  renderAll();
}

function onCounterChanged(counter) {
  state.counters.set(counter.number, counter);
  sawServerTime(counter.state_since);
  renderTiles();
  scheduleReport();
}

function onQueueChanged(payload) {
  for (const update of payload.services || []) {
    const service = state.services.find((s) => s.code === update.code);
    if (service) Object.assign(service, { waiting: update.waiting, estimated_wait_s: update.estimated_wait_s });
  }
  renderQueues();
  renderTiles();
  scheduleReport();
}

function onTicketChanged(ticket) {
  if (ticket.status === "waiting") state.waiting.set(ticket.id, { service: ticket.service, issued_at: ticket.issued_at });
  else state.waiting.delete(ticket.id);
  sawServerTime(ticket.called_at, ticket.finished_at);
  renderQueues();
}

function onAlertRaised(alert) {
  const known = state.alerts.has(alert.id);
  state.alerts.set(alert.id, alert);
  sawServerTime(alert.raised_at, alert.escalated_at);
  if (alert.severity === "critical" && (!known || alert.reminder)) playAlarm();
  renderAlerts();
  renderTiles();
  scheduleReport();
}

function onAlertChanged(alert) {
  const before = state.alerts.get(alert.id);
  sawServerTime(alert.escalated_at, alert.acknowledged_at);
  if (alert.resolved_at) state.alerts.delete(alert.id);
  else state.alerts.set(alert.id, alert);
  if (alert.severity === "critical" && before && before.severity !== "critical" && !alert.resolved_at) playAlarm();
  renderAlerts();
  renderTiles();
}

function onAlertResolved(alert) {
  state.alerts.delete(alert.id);
  sawServerTime(alert.resolved_at);
  renderAlerts();
  renderTiles();
  scheduleReport();
}

async function acknowledge(alert, button) {
  button.disabled = true;
  try {
    const updated = await api(`/alerts/${alert.id}/ack`, { method: "POST", token: state.token });
    if (updated.resolved_at) state.alerts.delete(updated.id);
    else state.alerts.set(updated.id, updated);
  } catch (error) {
    if (error.code === "already_resolved" || error.status === 404) state.alerts.delete(alert.id);
    else showError(error.code === "network" ? i18n.t("err_network") : i18n.t("err_generic", { message: error.message }));
  }
  renderAlerts();
  renderTiles();
}

// --- the report: headline figures and the chart --------------------------------------------------

function scheduleReport() {
  if (state.reportTimer) return;
  state.reportTimer = setTimeout(() => {
    state.reportTimer = null;
    loadReport();
  }, REPORT_AFTER_ACTIVITY_MS);
}

async function loadReport() {
  try {
    const report = await api("/reports/daily", { token: state.token });
    state.report = report;
    if (state.live && report.generated_at) state.live.clock.sync(report.generated_at);
    renderKpis();
    renderChart();
  } catch (error) {
    if (error.status === 401) {
      await logOut(state.token);
      window.location.reload();
    }
  }
}

// --- rendering ----------------------------------------------------------------------------------

function renderAll() {
  showBranchName();
  renderTiles();
  renderQueues();
  renderAlerts();
  renderKpis();
  renderChart();
  renderStatus(renderStatus.last || "connecting");
  tick();
}

function renderStatus(status) {
  renderStatus.last = status;
  $("live-dot").classList.toggle("online", status === "online");
  const key = { online: "live_online", offline: "live_offline", refused: "live_refused" }[status] || "live_connecting";
  $("live-text").textContent = i18n.t(key);
  $("live").dataset.status = status;
  if (status === "refused" && state.token) {
    logOut(state.token).then(() => window.location.reload());
  }
}

function renderSound() {
  const muted = isMuted();
  const button = $("sound-toggle");
  button.textContent = i18n.t(muted ? "sound_off" : "sound_on");
  button.classList.toggle("muted", muted);
}

function setKpi(id, value, note = "", tone = "") {
  const card = $(id);
  card.querySelector(".kpi-value").textContent = value;
  card.querySelector(".kpi-note").textContent = note;
  card.dataset.tone = tone;
}

function renderKpis() {
  const waitingNow = state.services.reduce((sum, s) => sum + (s.waiting || 0), 0);
  setKpi("kpi-waiting", String(waitingNow), "", waitingNow > 0 ? "" : "quiet");
  const report = state.report;
  if (!report) return;
  const h = report.headline;
  setKpi("kpi-tickets", String(h.tickets), `${i18n.t("kpi_served")} ${h.served}`);
  setKpi("kpi-avg-wait", duration(h.avg_wait_s));
  setKpi("kpi-p90-wait", duration(h.p90_wait_s));
  const level = h.service_level;
  setKpi("kpi-service-level", percent(level),
    h.service_level_counted ? i18n.t("kpi_counted", { met: h.service_level_met, counted: h.service_level_counted }) : "",
    level == null ? "" : level >= 0.9 ? "good" : level >= 0.75 ? "warn" : "bad");
  setKpi("kpi-no-show", percent(h.no_show_rate), h.no_shows ? i18n.t("kpi_no_shows", { n: h.no_shows }) : "");
  const mistakes = h.outcomes.redo + h.outcomes.error;
  setKpi("kpi-errors", percent(h.error_rate), i18n.t("kpi_outcomes", h.outcomes), mistakes > 0 ? "warn" : "");
}

function renderChart() {
  if (!chart || !state.report) return;
  const services = state.report.services.map((s) => ({ code: s.code, label: `${s.code} ${i18n.pick(s.name)}` }));
  const drawn = chart.update(state.report.waiting_series, services, state.timeZone);
  $("chart-empty").hidden = drawn;
}

function alertsByCounter() {
  const out = new Map();
  for (const alert of state.alerts.values()) {
    if (alert.counter == null) continue;
    const list = out.get(alert.counter) || [];
    list.push(alert);
    out.set(alert.counter, list);
  }
  return out;
}

function worst(alerts) {
  return [...alerts].sort((a, b) => SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity])[0] || null;
}

/** Waiting customers this counter could call now. */
function eligibleWaiting(counter) {
  return state.services.filter((s) => counter.services.includes(s.code)).reduce((sum, s) => sum + (s.waiting || 0), 0);
}

function renderTiles() {
  const box = $("tiles");
  const alerts = alertsByCounter();
  const tiles = [...state.counters.values()].sort((a, b) => a.number - b.number).map((counter) => {
    const own = alerts.get(counter.number) || [];
    const top = worst(own);
    const tile = el("article", `tile state-${counter.state}`);
    tile.dataset.counter = String(counter.number);
    tile.dataset.state = counter.state;
    if (top) {
      tile.classList.add(`alert-${top.severity}`);
      if (own.some((a) => !a.acknowledged_at)) tile.classList.add("unacknowledged");
    }
    tile.setAttribute("aria-label", `${i18n.t("counter_n", { n: counter.number })}: ${words.label("counter_states", counter.state)}`);

    const head = el("header", "tile-head");
    head.append(el("span", "tile-number", String(counter.number)), el("span", "tile-state", words.label("counter_states", counter.state)));
    tile.append(head);

    tile.append(el("p", "tile-staff", counter.staff ? counter.staff.name : i18n.t("nobody")));

    const current = counter.current_ticket;
    const body = el("p", "tile-ticket");
    if (current) {
      body.append(el("span", "ticket-number", current.number), el("span", "ticket-service", serviceName(current.service)));
    } else if (counter.state === "paused") {
      body.append(el("span", "pause-reason", words.label("pause_reasons", counter.pause_reason || "other")));
    } else if (counter.state === "idle" && eligibleWaiting(counter) > 0) {
      body.append(el("span", "eligible", i18n.t("eligible_waiting", { n: eligibleWaiting(counter) })));
    } else {
      body.append(el("span", "muted", counter.state === "closed" ? "" : i18n.t("no_ticket")));
    }
    tile.append(body);

    const foot = el("footer", "tile-foot");
    const timer = el("span", "tile-timer");
    if (counter.state !== "closed") timer.dataset.since = counter.state_since;
    foot.append(timer, el("span", "tile-services", counter.services.join(" ")));
    tile.append(foot);

    if (counter.help_requested_at) tile.append(el("p", "tile-flag help", i18n.t("help_badge")));
    else if (top) tile.append(el("p", `tile-flag ${top.severity}`, words.label("alert_rules", top.rule)));
    return tile;
  });
  box.replaceChildren(...tiles);
  tick();
}

function renderQueues() {
  const rows = state.services.map((service, index) => {
    let oldest = null;
    for (const ticket of state.waiting.values()) {
      if (ticket.service === service.code && (!oldest || ticket.issued_at < oldest)) oldest = ticket.issued_at;
    }
    const row = el("tr");
    row.dataset.service = service.code;
    const name = el("th", "service-cell");
    name.scope = "row";
    const badge = el("span", "service-code", service.code);
    badge.style.backgroundColor = colourOf(index);
    const label = el("span", "service-label");
    label.append(badge, el("span", "service-name", i18n.pick(service.name)));
    name.append(label);
    const waiting = el("td", "num waiting-count", String(service.waiting ?? 0));
    if (!service.waiting) waiting.classList.add("zero");
    const longest = el("td", "num longest", oldest ? "" : i18n.t("none"));
    if (oldest) {
      longest.dataset.since = oldest;
      longest.dataset.target = String(service.target_wait_s || 0);
    }
    const estimate = el("td", "num", service.waiting != null ? minutesText(service.estimated_wait_s || 0) : i18n.t("none"));
    const target = el("td", "num muted", service.target_wait_s ? minutesText(service.target_wait_s) : i18n.t("none"));
    row.append(name, waiting, longest, estimate, target);
    return row;
  });
  const total = state.services.reduce((sum, s) => sum + (s.waiting || 0), 0);
  const foot = el("tr", "total-row");
  const label = el("th", "", i18n.t("q_total"));
  label.scope = "row";
  foot.append(label, el("td", "num", String(total)), el("td"), el("td"), el("td"));
  $("queue-rows").replaceChildren(...rows, foot);
  renderKpis();
  tick();
}

function sortedAlerts() {
  return [...state.alerts.values()].sort((a, b) =>
    SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] || a.raised_at.localeCompare(b.raised_at) || a.id - b.id);
}

function renderAlerts() {
  const alerts = sortedAlerts();
  $("alert-count").textContent = String(alerts.length);
  $("alert-count").dataset.severity = alerts.length ? alerts[0].severity : "none";
  $("alerts-none").hidden = alerts.length > 0;
  const items = alerts.map((alert) => {
    const item = el("li", `alert sev-${alert.severity}`);
    item.dataset.id = String(alert.id);
    item.dataset.rule = alert.rule;
    if (alert.acknowledged_at) item.classList.add("acknowledged");

    const head = el("div", "alert-head");
    head.append(
      el("span", `pill ${alert.severity}`, words.label("alert_severities", alert.severity)),
      el("span", "alert-rule", words.label("alert_rules", alert.rule)),
    );
    const age = el("span", "alert-age");
    age.dataset.since = alert.raised_at;
    age.dataset.format = "ago";
    head.append(age);
    item.append(head);

    item.append(el("p", "alert-message", i18n.pick(alert.messages || alert.message)));
    if (alert.rule === "short_queue_long_wait" && alert.lead_time_s != null) {
      item.append(el("p", "alert-detail", i18n.t("lead_time", { m: Math.round(alert.lead_time_s / 60) })));
    }

    const foot = el("div", "alert-foot");
    if (alert.acknowledged_at) {
      foot.append(el("span", "ack-state", i18n.t("acked_by", { who: alert.acknowledged_by || "" })));
    } else {
      const button = el("button", "ack", i18n.t("ack"));
      button.type = "button";
      button.setAttribute("aria-label", i18n.t("ack_label", { what: i18n.pick(alert.messages || alert.message) }));
      button.addEventListener("click", () => acknowledge(alert, button));
      foot.append(button);
    }
    item.append(foot);
    return item;
  });
  $("alert-list").replaceChildren(...items);
  tick();
}

/** Once a second: every running duration on screen, and the server clock in the top bar. */
function tick() {
  if (!state.live) return;
  for (const element of document.querySelectorAll("[data-since]")) {
    const seconds = Math.max(0, since(element.dataset.since));
    const text = clockDuration(seconds);
    element.textContent = element.dataset.format === "ago" ? i18n.t("raised_ago", { t: text }) : text;
    if (element.dataset.target) {
      const target = Number(element.dataset.target);
      element.classList.toggle("over", target > 0 && seconds > target);
      element.classList.toggle("near", target > 0 && seconds > target * 0.6 && seconds <= target);
    }
  }
  const now = new Date(state.live.clock.now());
  $("server-clock").textContent = now.toLocaleTimeString("en-GB", { timeZone: state.timeZone, hour12: false });
}

main();
