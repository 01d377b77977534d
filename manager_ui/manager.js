// The lobby manager's live dashboard: counters, queues, open alerts, instructions to the counters
// and what the counters report, today's figures and a chart.
//
// Every alert card carries its action: a button that sends the counter the instruction that does
// it (or, for a help request, "on my way" and then "done"). An instruction stays on the dashboard
// until the teller answers it, flagged (and sounded) once its answer is overdue; answers stay ten
// minutes.
//
// State comes from the Socket.IO snapshot and the events after it; the headline figures and the
// chart come from the daily report, fetched every minute and shortly after activity. Every
// "how long" on screen is measured on the server's clock (live.js), re-synced whenever the server
// tells us its time, so a branch on a manual clock (tests, demos) shows the right durations.

import { api } from "/static/js/api.js";
import { createI18n } from "/static/js/i18n.js";
import { connectLive } from "/static/js/live.js";
import { ago, duration as spelled } from "/static/js/format.js";
import { hoursAt, openingText, summaryText } from "/static/js/hours.js";
import { createWords } from "/static/js/vocabulary.js";
import { MESSAGES } from "./messages.js";
import { logOut, signIn, startPage } from "./session.js";
import { el } from "/static/js/dom.js";
import { unlockAudio } from "/static/js/audio.js";
import { isMuted, playAlarm, setMuted } from "./sound.js";
import { colourOf, waitingChart } from "./charts.js";
import { openInstructDialog } from "./instruct.js";
import { openDeskTicketDialog, refreshDeskWaits } from "./desk_ticket.js";
import { KIND_FOR_RULE, openComplaintSheet, renderComplaintSheet } from "./complaint_sheet.js";

const REPORT_EVERY_MS = 60_000;
const REPORT_AFTER_ACTIVITY_MS = 4_000;
const SEVERITY_RANK = { critical: 2, warning: 1 };
const ANSWERS_KEPT_S = 600; // an answered instruction stays on the dashboard this long
const RATINGS_SHOWN = 10;   // the latest ratings panel: GET /ratings?limit=10, then rating_received
const LOW_STARS = 2;        // a rating of this many stars or fewer is a low one (the low_rating rule's)

const $ = (id) => document.getElementById(id);

const state = {
  token: null,
  me: null,
  branch: null,
  timeZone: "Asia/Shanghai",
  live: null,
  hours: null, // the branch's hours as last heard (hours.js); hoursAsked: when fresh ones were asked for
  hoursAsked: 0,
  services: [], // [{code, name, waiting, estimated_wait_s, target_wait_s}] in display order
  counters: new Map(), // number -> counter
  waiting: new Map(), // ticket id -> {service, issued_at, priority}
  alerts: new Map(), // id -> alert
  instructions: new Map(), // id -> instruction (unanswered, or answered in the last ten minutes)
  overdue: new Set(), // ids of instructions already flagged overdue (each sounds once)
  complaints: new Map(), // id -> complaint recorded today
  pending: new Set(), // ids of alerts whose button has a request in flight
  ratings: [], // the latest ratings, newest first (GET /ratings, then rating_received)
  expanded: new Set(), // keys of long comments shown in full ("rating-<ticket id>", "alert-<id>")
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
  return seconds == null ? i18n.t("none") : spelled(seconds, i18n.lang);
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

function showApiError(error) {
  showError(error.code === "network" ? i18n.t("err_network") : i18n.t("err_generic", { message: error.message }));
}

/** "Counter 3 (lin)": a counter named with the teller at it (or the one given). */
function counterName(number, teller) {
  const name = teller ?? state.counters.get(number)?.staff?.name;
  return name ? i18n.t("counter_with_teller", { n: number, name }) : i18n.t("counter_n", { n: number });
}

function serviceName(code) {
  const service = state.services.find((s) => s.code === code);
  return service ? i18n.pick(service.name) : code;
}

// --- start --------------------------------------------------------------------------------------

async function main() {
  ({ branch: state.branch, i18n } = await startPage({ toggle: $("lang-toggle"), onError: showError }));
  if (state.branch) state.timeZone = state.branch.timezone || state.timeZone;
  i18n.onChange(() => {
    document.title = `${i18n.t("page_title")} · Callwise`;
    renderAll();
    renderSound();
    renderComplaintSheet();
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
  for (const id of ["live", "sound-toggle", "report-link", "who", "logout", "server-clock", "issue-ticket", "record-complaint"]) {
    $(id).hidden = false;
  }
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
  $("issue-ticket").addEventListener("click", openDeskTicket);
  $("record-complaint").addEventListener("click", () => openComplaint({ opener: $("record-complaint") }));
  for (const type of ["pointerdown", "keydown"]) document.addEventListener(type, unlockAudio, { once: true });

  chart = waitingChart($("waiting-chart"), { height: "fill" });
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
      instruction: onInstruction,
      instruction_answered: onInstruction,
      complaint_recorded: onComplaint,
      rating_received: onRating,
      // A manual clock jumped (tests, demos): the hours may have moved on; they come with a snapshot.
      clock_changed: () => state.live.refresh(),
    },
  });
  loadReport();
  loadComplaints();
  setInterval(loadReport, REPORT_EVERY_MS);
  setInterval(tick, 1000);
}

// --- live state ---------------------------------------------------------------------------------

function onSnapshot(snapshot) {
  const known = new Set(state.alerts.keys());
  if (snapshot.hours) state.hours = snapshot.hours;
  state.services = snapshot.services || [];
  state.counters = new Map((snapshot.counters || []).map((c) => [c.number, c]));
  state.waiting = new Map();
  for (const queue of snapshot.queue || []) {
    for (const ticket of queue.tickets || []) {
      // Held tickets are out of the queue (they come back only when a teller calls them).
      if (ticket.held || (ticket.status && ticket.status !== "waiting")) continue;
      state.waiting.set(ticket.id, { service: queue.code, issued_at: ticket.issued_at, priority: Boolean(ticket.priority) });
    }
  }
  state.alerts = new Map((snapshot.alerts || []).map((a) => [a.id, a]));
  // After a reconnect, a critical alert raised while we were away still deserves the sound.
  if (state.snapshots > 0 && [...state.alerts.values()].some((a) => a.severity === "critical" && !known.has(a.id))) {
    playAlarm();
  }
  if (Array.isArray(snapshot.instructions)) {
    state.instructions = new Map(snapshot.instructions.map((i) => [i.id, i]));
    // Those already overdue when the page opens are flagged without a sound; after a reconnect,
    // one that went overdue meanwhile sounds (checkInstructions).
    if (state.snapshots === 0) for (const i of snapshot.instructions) if (isOverdue(i)) state.overdue.add(i.id);
  }
  state.snapshots += 1;
  renderAll();
  // The latest ratings: on opening, and after a reconnect (any heard of meanwhile are missed).
  loadRatings();
}

function onCounterChanged(counter) {
  state.counters.set(counter.number, counter);
  sawServerTime(counter.state_since);
  renderTiles();
  if ([...state.alerts.values()].some((a) => a.counter === counter.number)) renderAlerts();
  scheduleReport();
}

function onQueueChanged(payload) {
  for (const update of payload.services || []) {
    const service = state.services.find((s) => s.code === update.code);
    if (service) Object.assign(service, { waiting: update.waiting, estimated_wait_s: update.estimated_wait_s });
  }
  refreshDeskWaits(payload.services);
  renderQueues();
  renderTiles();
  scheduleReport();
}

function onTicketChanged(ticket) {
  if (ticket.status === "waiting") {
    state.waiting.set(ticket.id, { service: ticket.service, issued_at: ticket.issued_at, priority: Boolean(ticket.priority) });
  }
  else state.waiting.delete(ticket.id);
  sawServerTime(ticket.called_at, ticket.finished_at);
  renderQueues();
}

// --- a ticket issued at the desk ---------------------------------------------------------------------

function openDeskTicket() {
  openDeskTicketDialog({
    i18n, token: state.token, timeZone: state.timeZone,
    languages: state.branch?.languages || i18n.languages,
    branchName: state.branch?.name,
    services: state.services.map((service) => ({ ...service })),
    opener: $("issue-ticket"),
    onComplaint: (ticket) => openComplaint({ ticket, opener: $("record-complaint") }),
    closedText(lang) {
      if (!state.live) return "";
      const now = state.live.clock.now();
      const view = hoursAt(state.hours, now, state.timeZone);
      return view ? openingText(view, lang, state.timeZone, now) : "";
    },
  });
}

// --- a complaint ------------------------------------------------------------------------------------

/**
 * The complaint sheet, prefilled with what it was opened from: a tile's counter and customer, an
 * alert card's ticket and counter and the kind its rule foretells, a desk ticket, or nothing.
 */
function openComplaint({ ticket = null, counter = null, alert = null, opener = null }) {
  openComplaintSheet({
    i18n, words, token: state.token, ticket, counter, opener, counterName,
    rule: alert?.rule ?? null,
    kind: alert ? KIND_FOR_RULE[alert.rule] ?? null : null,
    onRecorded(complaint) {
      onComplaint(complaint);
      const item = $("complaint-list").querySelector(`li[data-id="${complaint.id}"]`);
      if (item) item.scrollIntoView({ block: "nearest" });
    },
  });
}

/** The ticket an alert card is about: its subject, or the customer its action names. */
function alertTicket(alert) {
  if (alert.subject?.kind === "ticket" && alert.subject.id != null) {
    return { id: alert.subject.id, number: alert.subject.label || String(alert.subject.id) };
  }
  const named = alert.action?.ticket;
  return named && named.id != null ? { id: named.id, number: named.number || String(named.id) } : null;
}

/** "Complaint…" on a tile or a card, named for what it is about. */
function complaintButton(what, open) {
  const button = el("button", "secondary complaint-open", i18n.t("complaint_button"));
  button.type = "button";
  button.setAttribute("aria-haspopup", "dialog");
  button.setAttribute("aria-label", i18n.t("complaint_button_label", { what }));
  button.addEventListener("click", () => open(button));
  return button;
}

// --- ratings ------------------------------------------------------------------------------------

function ratingKey(rating) {
  return `${rating.ticket?.id ?? rating.ticket?.number}|${rating.rated_at}`;
}

async function loadRatings() {
  try {
    const ratings = await api(`/ratings?limit=${RATINGS_SHOWN}`, { token: state.token });
    // One heard live while the request was on its way is kept.
    const known = new Set(ratings.map(ratingKey));
    const newer = state.ratings.filter((r) => !known.has(ratingKey(r)) && (!ratings[0] || r.rated_at > ratings[0].rated_at));
    state.ratings = [...newer, ...ratings].slice(0, RATINGS_SHOWN);
    renderRatings();
  } catch (error) {
    // The panel fills from the live events anyway; a failed read is not worth a banner.
  }
}

function onRating(rating) {
  if (!rating) return;
  sawServerTime(rating.rated_at);
  const key = ratingKey(rating);
  state.ratings = [rating, ...state.ratings.filter((r) => ratingKey(r) !== key)].slice(0, RATINGS_SHOWN);
  renderRatings();
  $("ratings-scroll").scrollTo({ top: 0 });
  scheduleReport();
}

function onAlertRaised(alert) {
  const known = state.alerts.has(alert.id);
  state.alerts.set(alert.id, alert);
  sawServerTime(alert.raised_at, alert.escalated_at);
  if (alert.severity === "critical" && (!known || alert.reminder)) playAlarm();
  renderAlerts();
  renderTiles();
  // The newest card of its severity is at the top: bring the list back there to show it.
  if (!known) $("alert-list").scrollTo({ top: 0 });
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
    takeAlert(updated);
  } catch (error) {
    if (error.code === "already_resolved" || error.status === 404) state.alerts.delete(alert.id);
    else showApiError(error);
  }
  renderAlerts();
  renderTiles();
}

function takeAlert(alert) {
  if (alert.resolved_at) state.alerts.delete(alert.id);
  else state.alerts.set(alert.id, alert);
}

/** The card's action, done: the instruction that carries it out goes to the counter. */
async function sendAction(alert) {
  const action = alert.action;
  const body = { kind: action.instruction, alert: alert.id };
  if (action.ticket && action.ticket.id != null) body.ticket = action.ticket.id;
  await whilePending(alert, async () => {
    const sent = await api(`/counters/${action.counter}/instruct`, { body, token: state.token });
    state.instructions.set(sent.id, sent);
  });
}

/** A help request answered: "on_my_way" (the teller and the customer hear it), then "done". */
async function respond(alert, answer) {
  await whilePending(alert, async () => {
    takeAlert(await api(`/alerts/${alert.id}/respond`, { body: { state: answer }, token: state.token }));
  });
}

async function whilePending(alert, work) {
  if (state.pending.has(alert.id)) return;
  state.pending.add(alert.id);
  renderAlerts();
  try {
    await work();
  } catch (error) {
    if (error.code === "already_resolved" || error.code === "unknown_alert") state.alerts.delete(alert.id);
    else showApiError(error);
    if (state.live) state.live.refresh();
  } finally {
    state.pending.delete(alert.id);
  }
  renderAlerts();
  renderTiles();
  renderLobby();
}

// --- instructions and complaints -------------------------------------------------------------------

function onInstruction(instruction) {
  state.instructions.set(instruction.id, instruction);
  sawServerTime(instruction.issued_at, instruction.answered_at);
  if (instruction.answered_at) state.overdue.delete(instruction.id);
  renderLobby();
  renderAlerts();
  renderTiles();
}

function onComplaint(complaint) {
  state.complaints.set(complaint.id, complaint);
  sawServerTime(complaint.recorded_at);
  renderLobby();
}

async function loadComplaints() {
  try {
    const complaints = await api("/complaints", { token: state.token });
    for (const complaint of complaints) state.complaints.set(complaint.id, complaint);
    renderLobby();
  } catch (error) {
    // The list fills from the live events anyway; a failed first read is not worth a banner.
  }
}

function isOverdue(instruction) {
  if (instruction.answered_at) return false;
  if (instruction.overdue) return true;
  return Boolean(state.live && instruction.answer_due_at
    && state.live.clock.now() >= Date.parse(instruction.answer_due_at));
}

/** The newest instruction sent from an alert's card, if any. */
function instructionFor(alert) {
  let latest = null;
  for (const instruction of state.instructions.values()) {
    if (instruction.alert_id === alert.id && (!latest || instruction.id > latest.id)) latest = instruction;
  }
  return latest;
}

/** Once a second: flag instructions whose answer is now overdue (with the sound), forget old answers. */
function checkInstructions() {
  if (!state.live) return;
  const now = state.live.clock.now();
  let changed = false;
  let sound = false;
  for (const instruction of [...state.instructions.values()]) {
    if (instruction.answered_at && now - Date.parse(instruction.answered_at) > ANSWERS_KEPT_S * 1000) {
      state.instructions.delete(instruction.id);
      changed = true;
    } else if (isOverdue(instruction) && !state.overdue.has(instruction.id)) {
      state.overdue.add(instruction.id);
      changed = sound = true;
    }
  }
  if (sound) playAlarm();
  if (changed) {
    renderLobby();
    renderAlerts();
    renderTiles();
  }
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
  renderLobby();
  renderRatings();
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

/** The counter's unanswered instructions, overdue ones first. */
function openInstructionsOf(number) {
  return [...state.instructions.values()].filter((i) => i.counter === number && !i.answered_at)
    .sort((a, b) => Number(isOverdue(b)) - Number(isOverdue(a)) || a.id - b.id);
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
    const name = counter.state === "closed" ? i18n.t("counter_n", { n: counter.number }) : counterName(counter.number);
    tile.setAttribute("aria-label", `${name}: ${words.label("counter_states", counter.state)}`);

    const head = el("header", "tile-head");
    head.append(
      el("span", "tile-number", String(counter.number)),
      el("span", "tile-staff", counter.staff ? counter.staff.name : i18n.t("nobody")),
      el("span", "tile-state", words.label("counter_states", counter.state)),
    );
    tile.append(head);

    const current = counter.current_ticket;
    const body = el("p", "tile-ticket");
    if (current) {
      body.append(el("span", "ticket-number", current.number));
      if (current.priority) body.append(priorityPill());
      body.append(el("span", "ticket-service", serviceName(current.service)));
    } else if (counter.state === "paused") {
      body.append(el("span", "pause-reason", words.label("pause_reasons", counter.pause_reason || "other")));
    } else if (counter.state === "idle" && eligibleWaiting(counter) > 0) {
      body.append(el("span", "eligible", i18n.t("eligible_waiting", { n: eligibleWaiting(counter) })));
    } else {
      body.append(el("span", "muted", counter.state === "closed" ? "" : i18n.t("no_ticket")));
    }
    tile.append(body);

    const help = counter.help || (counter.help_requested_at ? { state: "waiting" } : null);
    const waiting = openInstructionsOf(counter.number);
    if (help) {
      const flag = el("p", `tile-flag help help-${help.state}`, i18n.t("help_flag", { state: words.label("help_states", help.state) }));
      tile.append(flag);
    } else if (waiting.length) {
      const late = isOverdue(waiting[0]);
      tile.append(el("p", `tile-flag pending-instruction${late ? " critical" : ""}`,
        i18n.t(late ? "instruction_overdue_badge" : "instruction_pending_badge")));
    } else if (top) {
      tile.append(el("p", `tile-flag ${top.severity}`, words.label("alert_rules", top.rule)));
    }

    const foot = el("footer", "tile-foot");
    const timer = el("span", "tile-timer");
    if (counter.state !== "closed") timer.dataset.since = counter.state_since;
    foot.append(timer, el("span", "tile-services", counter.services.join(" ")));
    if (counter.state !== "closed" && counter.staff) {
      const button = el("button", "secondary instruct", i18n.t("instruct"));
      button.type = "button";
      button.setAttribute("aria-haspopup", "dialog");
      button.setAttribute("aria-label", i18n.t("instruct_label", { who: name }));
      button.addEventListener("click", () => openInstructDialog({
        counter, who: name, i18n, words, token: state.token,
        onSent(sent) {
          state.instructions.set(sent.id, sent);
          renderLobby();
          renderTiles();
        },
      }));
      foot.append(button);
    }
    const ticket = current ? { id: current.id, number: current.number } : null;
    foot.append(complaintButton([name, ticket?.number].filter(Boolean).join(" · "), (opener) => openComplaint({
      ticket, counter: counter.number, opener,
    })));
    tile.append(foot);
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
    const priority = [...state.waiting.values()].filter((t) => t.service === service.code && t.priority).length;
    if (priority) {
      const pill = el("span", "priority-pill", i18n.t("priority_waiting", { n: priority }));
      pill.title = i18n.t("priority_waiting_label", { n: priority });
      label.append(pill);
    }
    row.dataset.priority = String(priority);
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

/** Most severe first, then newest first: a new card comes in at the top of its severity. */
function sortedAlerts() {
  return [...state.alerts.values()].sort((a, b) =>
    SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] || b.raised_at.localeCompare(a.raised_at) || b.id - a.id);
}

function renderAlerts() {
  const alerts = sortedAlerts();
  $("alert-count").textContent = String(alerts.length);
  $("alert-count").dataset.severity = alerts.length ? alerts[0].severity : "none";
  $("alerts-none").hidden = alerts.length > 0;
  $("alert-list").replaceChildren(...alerts.map(alertCard));
  tick();
}

function alertCard(alert) {
  const item = el("li", `alert sev-${alert.severity}`);
  item.dataset.id = String(alert.id);
  item.dataset.rule = alert.rule;
  item.dataset.severity = alert.severity;
  if (alert.acknowledged_at) item.classList.add("acknowledged");
  const message = i18n.pick(alert.messages || alert.message);

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

  const data = alert.data || {};
  if (alert.rule === "low_rating" && data.stars != null) {
    // The customer's own words, whole but folded when long, under the stars and where it happened.
    item.append(ratingSummary({ ...data, number: alert.subject?.label }));
    if (data.comment) item.append(...foldedText(data.comment, `alert-${alert.id}`, "alert-comment"));
  } else {
    item.append(el("p", "alert-message", message));
  }
  if (alert.rule === "help_requested" && data.reason) {
    // The teller's own word is on the counter's help request (the alert keeps the reason).
    const word = data.text || state.counters.get(alert.counter)?.help?.text;
    item.append(el("p", "alert-detail", i18n.t("help_reason", { reason: words.label("help_reasons", data.reason) })
      + (word ? ` · ${word}` : "")));
  }
  if (alert.rule === "short_queue_long_wait" && alert.lead_time_s != null) {
    item.append(el("p", "alert-detail", i18n.t("lead_time", { m: Math.round(alert.lead_time_s / 60) })));
  }
  const joined = Array.isArray(data.joined) ? data.joined : [];
  if (joined.length) {
    const parts = el("ul", "alert-joined");
    for (const part of joined) {
      parts.append(el("li", "", i18n.t("joined_part", { rule: words.label("alert_rules", part.rule), subject: part.subject || "" })));
    }
    item.append(parts);
  }

  const sent = instructionFor(alert);
  if (sent) item.append(instructionStatus(sent));

  const foot = el("div", "alert-foot");
  const primary = actionButton(alert, sent);
  if (primary) foot.append(primary);
  else if (alert.action) foot.append(el("p", "alert-action-text", i18n.pick(alert.action.messages || alert.action.text)));
  if (alert.acknowledged_at) {
    foot.append(el("span", "ack-state", i18n.t("acked_by", { who: alert.acknowledged_by || "" })));
  } else {
    const button = el("button", "secondary ack", i18n.t("ack"));
    button.type = "button";
    button.setAttribute("aria-label", i18n.t("ack_label", { what: message }));
    button.addEventListener("click", () => acknowledge(alert, button));
    foot.append(button);
  }
  const ticket = alertTicket(alert);
  foot.append(complaintButton(words.label("alert_rules", alert.rule), (opener) => openComplaint({
    ticket, counter: alert.counter ?? null, alert, opener,
  })));
  item.append(foot);
  return item;
}

/** "优先" beside a ticket number. */
function priorityPill() {
  const pill = el("span", "priority-pill", i18n.t("priority"));
  pill.title = i18n.t("priority_ticket");
  return pill;
}

/** ★★☆☆☆, read out as "2 of 5 stars". */
function starsOf(stars) {
  const n = Math.max(0, Math.min(5, Math.round(stars)));
  const line = el("span", `stars${n <= LOW_STARS ? " low" : ""}`, "★".repeat(n) + "☆".repeat(5 - n));
  line.setAttribute("role", "img");
  line.setAttribute("aria-label", i18n.t("stars_label", { n }));
  return line;
}

function tellerName(teller) {
  return teller && typeof teller === "object" ? teller.name || teller.username || "" : teller || "";
}

/** The stars of a rating, the customer's number, and the counter with its teller. */
function ratingSummary(rating) {
  const line = el("p", "rating-summary");
  line.append(starsOf(rating.stars));
  const number = rating.ticket?.number ?? rating.number;
  const where = [
    number ? i18n.t("rating_ticket", { number }) : "",
    rating.counter != null ? counterName(rating.counter, tellerName(rating.teller) || undefined) : tellerName(rating.teller),
  ].filter(Boolean).join(" · ");
  if (where) line.append(el("span", "rating-where", where));
  return line;
}

/**
 * A customer's text, possibly long: folded to a few lines, with a button to show it all when it is
 * longer than that (the button appears once the browser has measured it). `key` remembers the choice.
 */
function foldedText(text, key, className) {
  const open = state.expanded.has(key);
  const body = el("p", `${className} folded-text${open ? " open" : ""}`, text);
  const button = el("button", "secondary fold-toggle", i18n.t(open ? "show_less" : "show_all"));
  button.type = "button";
  button.hidden = !open;
  button.setAttribute("aria-expanded", String(open));
  button.addEventListener("click", () => {
    if (state.expanded.has(key)) state.expanded.delete(key);
    else state.expanded.add(key);
    const now = state.expanded.has(key);
    body.classList.toggle("open", now);
    button.textContent = i18n.t(now ? "show_less" : "show_all");
    button.setAttribute("aria-expanded", String(now));
  });
  requestAnimationFrame(() => {
    if (!body.isConnected || body.classList.contains("open")) return;
    button.hidden = body.scrollHeight <= body.clientHeight + 1;
  });
  return [body, button];
}

function renderRatings() {
  const ratings = state.ratings;
  $("ratings-none").hidden = ratings.length > 0;
  const low = ratings.filter((r) => r.stars <= LOW_STARS).length;
  $("ratings-low").hidden = low === 0;
  $("ratings-low").textContent = String(low);
  $("ratings-low").dataset.severity = low ? "warning" : "none";
  $("ratings-low").setAttribute("aria-label", i18n.t("ratings_low_label", { n: low }));
  $("rating-list").replaceChildren(...ratings.map((rating) => {
    const item = el("li", `rating${rating.stars <= LOW_STARS ? " low" : ""}`);
    item.dataset.stars = String(rating.stars);
    if (rating.ticket?.number) item.dataset.ticket = rating.ticket.number;
    const head = el("div", "rating-head");
    head.append(ratingSummary(rating));
    const age = el("span", "rating-age");
    age.dataset.since = rating.rated_at;
    age.dataset.format = "ago";
    head.append(age);
    item.append(head);
    if (rating.comment) item.append(...foldedText(rating.comment, `rating-${ratingKey(rating)}`, "rating-comment"));
    else item.append(el("p", "rating-comment muted", i18n.t("rating_no_comment")));
    return item;
  }));
  tick();
}

/** The button that does the card's action, or null when no button can (open a counter, watch). */
function actionButton(alert, sent) {
  const action = alert.action;
  const busy = state.pending.has(alert.id);
  if (alert.rule === "help_requested" && alert.counter != null) {
    const onTheWay = alert.data?.help_state === "on_my_way";
    const who = counterName(alert.counter, action?.teller);
    const button = el("button", `act ${onTheWay ? "help-done" : "on-my-way"}`,
      i18n.t(onTheWay ? "help_done" : "on_my_way"));
    button.type = "button";
    button.dataset.act = onTheWay ? "done" : "on_my_way";
    button.setAttribute("aria-label", i18n.t(onTheWay ? "help_done_label" : "on_my_way_label", { who }));
    button.disabled = busy;
    button.addEventListener("click", () => respond(alert, onTheWay ? "done" : "on_my_way"));
    if (!onTheWay) return button;
    const wrap = el("div", "act-wrap");
    wrap.append(el("p", "responder", i18n.t("responder_on_way", { who: alert.data.responder || "" })), button);
    return wrap;
  }
  if (!action || !action.instruction || action.counter == null) return null;
  const waiting = sent && !sent.answered_at;
  const label = i18n.pick(action.messages || action.text);
  const button = el("button", "act instruct-act", waiting ? i18n.t("sent_waiting") : label);
  button.type = "button";
  button.dataset.act = action.instruction;
  button.setAttribute("aria-label", waiting ? `${label}: ${i18n.t("sent_waiting")}` : label);
  button.disabled = busy || waiting;
  button.addEventListener("click", () => sendAction(alert));
  return button;
}

/** One line on a card: the instruction sent from it, and where its answer stands. */
function instructionStatus(instruction) {
  const line = el("p", "instruction-status");
  line.dataset.instruction = String(instruction.id);
  if (instruction.answered_at) {
    line.classList.add(`answer-${instruction.answer}`);
    line.textContent = answerText(instruction);
  } else {
    const late = isOverdue(instruction);
    line.classList.toggle("overdue", late);
    line.append(el("span", "", `${counterName(instruction.counter, instruction.teller)} · ${i18n.t(late ? "instr_overdue" : "instr_open")} `));
    const clock = el("span", "since");
    clock.dataset.since = instruction.issued_at;
    line.append(clock);
  }
  return line;
}

/** "Counter 1 (lin): Cannot — busy" on a card; without the counter in the list, whose item names it. */
function answerText(instruction, { withCounter = true } = {}) {
  const answer = words.label("instruction_answers", instruction.answer);
  const who = counterName(instruction.counter, instruction.answered_by || instruction.teller);
  const said = instruction.answer_text ? ` — ${instruction.answer_text}` : "";
  return (withCounter ? i18n.t("instr_answered_by", { who, answer }) : answer) + said;
}

/** The instructions panel: overdue first, then those awaiting an answer, then answers; newest first. */
function renderLobby() {
  const rank = (i) => (isOverdue(i) ? 0 : i.answered_at ? 2 : 1);
  const instructions = [...state.instructions.values()].sort((a, b) =>
    rank(a) - rank(b) || String(b.answered_at || b.issued_at).localeCompare(String(a.answered_at || a.issued_at)) || b.id - a.id);
  const items = instructions.map((instruction) => {
    const late = isOverdue(instruction);
    const item = el("li", "instruction");
    item.dataset.id = String(instruction.id);
    item.dataset.state = instruction.answered_at ? instruction.answer : late ? "overdue" : "open";
    const head = el("div", "instruction-head");
    head.append(el("span", "instruction-who", counterName(instruction.counter, instruction.teller)));
    const status = el("span", "instruction-state");
    if (instruction.answered_at) {
      status.textContent = words.label("instruction_answers", instruction.answer);
    } else {
      status.append(el("span", "", `${i18n.t(late ? "instr_overdue" : "instr_open")} `));
      const clock = el("span", "since");
      clock.dataset.since = instruction.issued_at;
      status.append(clock);
    }
    head.append(status);
    item.append(head);
    let what = words.label("instruction_kinds", instruction.kind);
    if (instruction.ticket) what += ` · ${i18n.t("instr_ticket", { number: instruction.ticket.number })}`;
    item.append(el("p", "instruction-what", what));
    if (instruction.text) item.append(el("p", "instruction-text", instruction.text));
    if (instruction.answered_at) {
      item.append(el("p", "instruction-answer", answerText(instruction, { withCounter: false })));
    }
    return item;
  });
  $("instruction-list").replaceChildren(...items);

  const complaints = [...state.complaints.values()].sort((a, b) => b.recorded_at.localeCompare(a.recorded_at) || b.id - a.id);
  $("complaint-list").replaceChildren(...complaints.slice(0, 30).map((complaint) => {
    const item = el("li", "complaint");
    item.dataset.id = String(complaint.id);
    item.dataset.kind = complaint.kind;
    const head = el("div", "instruction-head");
    const where = [complaint.counter != null ? counterName(complaint.counter) : "", complaint.ticket?.number || ""]
      .filter(Boolean).join(" · ");
    head.append(el("span", "complaint-kind", words.label("complaint_kinds", complaint.kind)), el("span", "complaint-where", where));
    item.append(head);
    if (complaint.subject) item.append(el("p", "complaint-subject", i18n.t("complaint_subject", { subject: complaint.subject })));
    if (complaint.text) item.append(el("p", "instruction-text", complaint.text));
    item.append(warnedLine(complaint.warned));
    if (complaint.recorded_by) item.append(el("p", "complaint-by muted", i18n.t("complaint_by", { who: complaint.recorded_by })));
    return item;
  }));
  $("complaints-title").hidden = complaints.length === 0;
  $("lobby-none").hidden = instructions.length > 0 || complaints.length > 0;
  const open = instructions.filter((i) => !i.answered_at);
  $("lobby-count").hidden = open.length === 0;
  $("lobby-count").textContent = String(open.length);
  $("lobby-count").dataset.severity = open.some(isOverdue) ? "critical" : "none";
  tick();
}

/**
 * What Callwise had told the manager before a complaint: "alert 'Idle counter' 4 min before ·
 * acknowledged · acted on", or "no alert before it".
 */
function warnedLine(warned) {
  const line = el("p", "complaint-warned");
  line.dataset.warned = warned ? "yes" : "no";
  if (!warned) {
    line.textContent = i18n.t("complaint_not_warned");
    return line;
  }
  line.dataset.acted = String(Boolean(warned.acted));
  line.textContent = [
    i18n.t("complaint_warned", { rule: words.label("alert_rules", warned.rule), lead: duration(warned.lead_s) }),
    i18n.t(warned.acknowledged ? "complaint_acknowledged" : "complaint_not_acknowledged"),
    i18n.t(warned.acted ? "complaint_acted" : "complaint_not_acted"),
    warned.resolved_before ? i18n.t("complaint_resolved_before") : "",
  ].filter(Boolean).join(" · ");
  return line;
}

/** The branch's state in the top bar: "营业中 · 16:45 停止取号" / "Closed · Next opening: Tue 1 Dec, 09:00". */
function renderHours(nowMs) {
  const view = hoursAt(state.hours, nowMs, state.timeZone);
  const line = $("hours-state");
  line.hidden = !view;
  if (!view) return;
  line.textContent = summaryText(view, i18n.lang, state.timeZone, nowMs);
  line.dataset.hours = view.state;
  if (view.stale && Date.now() - state.hoursAsked > 60_000) {
    state.hoursAsked = Date.now();
    state.live.refresh();
  }
}

/** Once a second: every running duration on screen, and the server clock in the top bar. */
function tick() {
  if (!state.live) return;
  checkInstructions();
  for (const element of document.querySelectorAll("[data-since]")) {
    const seconds = Math.max(0, since(element.dataset.since));
    element.textContent = element.dataset.format === "ago" ? ago(seconds, i18n.lang)
      : spelled(seconds, i18n.lang, { pad: true });
    if (element.dataset.target) {
      const target = Number(element.dataset.target);
      element.classList.toggle("over", target > 0 && seconds > target);
      element.classList.toggle("near", target > 0 && seconds > target * 0.6 && seconds <= target);
    }
  }
  const now = new Date(state.live.clock.now());
  renderHours(now.getTime());
  $("server-clock").textContent = now.toLocaleTimeString("en-GB", { timeZone: state.timeZone, hour12: false });
}

main();
