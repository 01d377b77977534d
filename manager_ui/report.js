// The report page: one day (pick a date, read the figures, tables and charts, download the CSV)
// or a range of days (report_range.js), switched by "Day | Range" and kept in the URL (?date= or
// ?from=&to=) so that either can be bookmarked. The day comes from GET /api/v1/reports/daily; the
// definitions of the figures are in server/reports.py (and at the foot of the page).

import { api } from "/static/js/api.js";
import { createI18n } from "/static/js/i18n.js";
import { timeOfDay } from "/static/js/format.js";
import { createWords } from "/static/js/vocabulary.js";
import { MESSAGES } from "./messages.js";
import { logOut, signIn, startPage } from "./session.js";
import { barChart, colourOf, waitingChart } from "./charts.js";
import { createRangeView } from "./report_range.js";
import { duration as durationOf, fillTable, levelTone, percent as percentOf, setTile, stars } from "./report_table.js";

const $ = (id) => document.getElementById(id);
const state = { token: null, branch: null, timeZone: "Asia/Shanghai", report: null, date: null, mode: "day" };
let i18n = createI18n(MESSAGES, ["zh", "en"], "callwise.manager.lang");
// Outcomes, pause reasons and rules: the branch's vocabulary (GET /api/v1/branch).
const words = createWords(() => state.branch?.vocabulary, (text) => i18n.pick(text));
let charts = null;
let rangeView = null;


const none = () => i18n.t("none");
const percent = (share) => percentOf(share, i18n);
const duration = (seconds) => durationOf(seconds, i18n);
const minutes = (seconds) => (seconds == null ? null : Math.round((seconds / 60) * 10) / 10);

function showError(text) {
  const box = $("error");
  box.textContent = text;
  box.hidden = !text;
}

// --- start --------------------------------------------------------------------------------------

async function main() {
  ({ branch: state.branch, i18n } = await startPage({ toggle: $("lang-toggle"), onError: showError }));
  if (state.branch) state.timeZone = state.branch.timezone || state.timeZone;
  i18n.onChange(() => {
    render();
    updateCsvLink();
    rangeView?.render();
  });
  render();
  await signIn({
    section: $("view-login"), i18n, onLoggedIn: start, onError: showError,
    onLoginShown() { $("view-loading").hidden = true; },
  });
}

function start({ token, me }) {
  state.token = token;
  $("view-loading").hidden = true;
  $("view-login").hidden = true;
  $("view-report").hidden = false;
  $("who").hidden = false;
  $("who").textContent = me.name;
  $("logout").hidden = false;
  $("logout").addEventListener("click", async () => {
    await logOut(state.token);
    window.location.assign("/manager");
  });
  charts = {
    perHour: barChart($("chart-per-hour"), { height: 230 }),
    waits: barChart($("chart-waits"), { height: 230 }),
    waiting: waitingChart($("chart-waiting"), { height: 230 }),
  };
  $("report-form").addEventListener("submit", (event) => {
    event.preventDefault();
    load($("report-date").value || null);
  });
  $("report-date").addEventListener("change", () => load($("report-date").value || null));
  rangeView = createRangeView({
    i18n, words, branch: state.branch, timeZone: state.timeZone, showError, fail,
    request: (path) => api(path, { token: state.token }),
    onRange: ({ from, to }) => setQuery({ from, to }),
  });
  for (const button of document.querySelectorAll(".mode-switch .mode")) {
    button.addEventListener("click", () => switchTo(button.dataset.mode));
  }
  const query = new URLSearchParams(window.location.search);
  if (query.has("from") || query.has("to")) {
    switchTo("range", { from: query.get("from"), to: query.get("to") });
  } else {
    switchTo("day", query.get("date"));
  }
}

/** Show the day (``what``: a date, else the one shown last, else today) or the range ({from, to}, else the last or the default). */
function switchTo(mode, what = null) {
  state.mode = mode;
  for (const button of document.querySelectorAll(".mode-switch .mode")) {
    button.setAttribute("aria-pressed", String(button.dataset.mode === mode));
  }
  $("view-day").hidden = mode !== "day";
  $("report-form").hidden = mode !== "day";
  $("view-range").hidden = mode !== "range";
  $("range-form").hidden = mode !== "range";
  showError("");
  render();
  // Charts drawn while their view was hidden take their real width now (charts.js resizes on this).
  window.dispatchEvent(new Event("resize"));
  if (mode === "range") {
    rangeView.show(what || rangeView.range() || {});
  } else if (what || !state.report) {
    load(what);
  } else {
    setQuery({ date: state.date });
  }
}

/** The URL says what is shown: ?date= for a day, ?from=&to= for a range (replacing the other). */
function setQuery(values) {
  const url = new URL(window.location.href);
  for (const key of ["date", "from", "to"]) url.searchParams.delete(key);
  for (const [key, value] of Object.entries(values)) if (value) url.searchParams.set(key, value);
  window.history.replaceState(null, "", url);
}

async function load(date) {
  showError("");
  try {
    const query = date ? `?date=${encodeURIComponent(date)}` : "";
    state.report = await api(`/reports/daily${query}`, { token: state.token });
    state.date = state.report.date;
    $("report-date").value = state.date;
    if (state.mode === "day") setQuery({ date: state.date });
    updateCsvLink();
    render();
  } catch (error) {
    await fail(error);
  }
}

/** A refused request: a lapsed log-in starts again from the log-in form; anything else is shown. */
async function fail(error) {
  if (error.status === 401) {
    await logOut(state.token);
    window.location.reload();
    return;
  }
  showError(error.code === "network" ? i18n.t("err_network") : i18n.t("err_generic", { message: error.message }));
}

function updateCsvLink() {
  if (!state.date) return;
  const link = $("csv-link");
  const code = state.report ? state.report.branch.code : "report";
  link.href = `/api/v1/reports/daily.csv?date=${state.date}&lang=${i18n.lang}`;
  link.setAttribute("download", `callwise-${code}-${state.date}.csv`);
  // The ratings with their comments alone (they are also the last section of the whole report's CSV).
  const ratings = $("ratings-csv-link");
  ratings.href = `/api/v1/reports/daily.csv?date=${state.date}&lang=${i18n.lang}&table=ratings`;
  ratings.setAttribute("download", `callwise-${code}-${state.date}-ratings.csv`);
}

// --- rendering ----------------------------------------------------------------------------------

function render() {
  const title = i18n.t(state.mode === "range" ? "range_title" : "report_title");
  document.title = `${title} · Callwise`;
  for (const element of [$("report-heading"), document.querySelector(".brand-page")]) {
    element.dataset.i18n = state.mode === "range" ? "range_title" : "report_title";
    element.textContent = title;
  }
  $("branch-name").textContent = state.branch ? i18n.pick(state.branch.name) : "";
  const report = state.report;
  if (!report || !charts) return;
  const period = report.period;
  $("report-period").textContent = `${period.complete ? i18n.t("report_complete")
    : i18n.t("report_partial", { time: timeOfDay(period.end, state.timeZone) })} · ${i18n.t("report_tz", { tz: report.timezone })}`;
  renderKpis(report.headline);
  renderCounterTools(report);
  renderCharts(report);
  renderTables(report);
}

/**
 * Priority customers (their wait beside everyone else's), and what the counter tools were used for:
 * set aside, returned, left from the phone, undone, called by choice (headline.priority, .counter_tools).
 */
function renderCounterTools(report) {
  const priority = report.headline.priority || {};
  const tools = report.headline.counter_tools || {};
  const set = (id, value, tone = "") => {
    $(id).querySelector(".figure-value").textContent = value == null ? none() : String(value);
    $(id).dataset.tone = tone;
  };
  set("fig-priority-issued", priority.issued);
  set("fig-priority-served", priority.served);
  set("fig-priority-wait", priority.mean_wait_s == null ? null : duration(priority.mean_wait_s));
  $("fig-priority-wait").querySelector(".figure-note").textContent = priority.others_mean_wait_s == null
    ? "" : i18n.t("f_others_wait", { wait: duration(priority.others_mean_wait_s) });
  set("fig-held", tools.held);
  set("fig-returned", tools.returned);
  set("fig-cancelled-by-customer", tools.cancelled_by_customer);
  set("fig-undone", tools.undone, tools.undone > 0 ? "warn" : "");
  set("fig-called-by-choice", tools.called_by_choice);
}

const setKpi = (id, ...shown) => setTile($(id), ...shown);

function renderKpis(h) {
  setKpi("kpi-tickets", String(h.tickets), `${i18n.t("kpi_served")} ${h.served}`);
  setKpi("kpi-waiting", String(h.waiting));
  setKpi("kpi-avg-wait", duration(h.avg_wait_s));
  setKpi("kpi-p90-wait", duration(h.p90_wait_s));
  setKpi("kpi-service-level", percent(h.service_level),
    h.service_level_counted ? i18n.t("kpi_counted", { met: h.service_level_met, counted: h.service_level_counted }) : "",
    levelTone(h.service_level));
  setKpi("kpi-no-show", percent(h.no_show_rate), h.no_shows ? i18n.t("kpi_no_shows", { n: h.no_shows }) : "");
  setKpi("kpi-errors", percent(h.error_rate), i18n.t("kpi_outcomes", h.outcomes),
    h.outcomes.redo + h.outcomes.error > 0 ? "warn" : "");
  // How often the wait told at the kiosk came true (within five minutes), and promises broken at closing.
  const e = h.estimates;
  setKpi("kpi-estimates", percent(e.within_5min),
    i18n.t("kpi_estimates_note", { error: duration(e.mean_abs_error_s), closed: e.cancelled_at_closing, unwarned: e.cancelled_unwarned }),
    e.cancelled_unwarned > 0 ? "bad" : levelTone(e.within_5min));
}

function renderCharts(report) {
  const services = report.services;
  const perHour = report.tickets_per_hour;
  charts.perHour.update({
    labels: perHour.hours.map((h) => `${String(h).padStart(2, "0")}:00`),
    groups: services.map((s, i) => ({
      label: `${s.code} ${i18n.pick(s.name)}`, colour: colourOf(i), values: perHour.services[s.code] || [],
    })),
  });
  charts.waits.update({
    labels: services.map((s) => s.code),
    groups: [
      { label: i18n.t("series_avg"), colour: "#0b5cad", values: services.map((s) => minutes(s.avg_wait_s)) },
      { label: i18n.t("series_p90"), colour: "#b4460a", values: services.map((s) => minutes(s.p90_wait_s)) },
    ],
    marker: { label: i18n.t("series_target"), colour: "#17663a", values: services.map((s) => minutes(s.target_wait_s)) },
  });
  charts.waiting.update(report.waiting_series,
    services.map((s) => ({ code: s.code, label: `${s.code} ${i18n.pick(s.name)}` })), state.timeZone);
}

function ratings(r) {
  return r.count ? i18n.t("rating_value", { n: r.count, mean: r.mean.toFixed(1) }) : none();
}

function renderTables(report) {
  fillTable($("table-services"), [
    { key: "c_service", value: (s) => `${s.code} ${i18n.pick(s.name)}` },
    { key: "c_tickets", num: true, value: (s) => String(s.tickets) },
    { key: "c_served", num: true, value: (s) => String(s.served) },
    { key: "c_no_shows", num: true, value: (s) => String(s.no_shows) },
    { key: "c_waiting", num: true, value: (s) => String(s.waiting) },
    { key: "c_avg_wait", num: true, value: (s) => duration(s.avg_wait_s) },
    { key: "c_p90_wait", num: true, value: (s) => duration(s.p90_wait_s) },
    { key: "c_max_wait", num: true, value: (s) => duration(s.max_wait_s) },
    { key: "q_target", num: true, value: (s) => duration(s.target_wait_s) },
    { key: "c_service_level", num: true, value: (s) => ({ text: percent(s.service_level), tone: levelTone(s.service_level) }) },
    { key: "c_no_show_rate", num: true, value: (s) => percent(s.no_show_rate) },
    { key: "c_avg_service", num: true, value: (s) => duration(s.avg_service_s) },
    { heading: words.short("outcomes", "redo"), num: true, value: (s) => ({ text: String(s.outcomes.redo), tone: s.outcomes.redo ? "warn" : "" }) },
    { heading: words.short("outcomes", "error"), num: true, value: (s) => ({ text: String(s.outcomes.error), tone: s.outcomes.error ? "bad" : "" }) },
  ], report.services, i18n);

  const comments = report.ratings?.comments || [];
  fillTable($("table-comments"), [
    { key: "c_time", value: (c) => timeOfDay(c.rated_at, state.timeZone) },
    { key: "c_number", value: (c) => c.number },
    { key: "c_stars", value: (c) => ({ text: stars(c.stars), tone: c.stars <= 2 ? "bad stars" : "stars", label: `${c.stars}★` }) },
    { key: "c_comment", value: (c) => ({ text: c.comment || none(), tone: "comment" }) },
    { key: "c_counter", value: (c) => ({ text: c.counter == null ? none() : i18n.t("counter_n", { n: c.counter }), tone: "nowrap" }) },
    { key: "c_teller", value: (c) => (c.teller && typeof c.teller === "object" ? c.teller.name : c.teller) || none() },
  ], comments, i18n);

  fillTable($("table-tellers"), [
    { key: "c_teller", value: (t) => t.name },
    { key: "c_counters", value: (t) => t.counters.join(", ") },
    { key: "c_served", num: true, value: (t) => String(t.served) },
    { heading: words.short("outcomes", "done"), num: true, value: (t) => String(t.outcomes.done) },
    { heading: words.short("outcomes", "redo"), num: true, value: (t) => ({ text: String(t.outcomes.redo), tone: t.outcomes.redo ? "warn" : "" }) },
    { heading: words.short("outcomes", "error"), num: true, value: (t) => ({ text: String(t.outcomes.error), tone: t.outcomes.error ? "bad" : "" }) },
    { key: "c_error_rate", num: true, value: (t) => percent(t.error_rate) },
    { key: "c_no_shows", num: true, value: (t) => String(t.no_shows) },
    { key: "c_avg_service", num: true, value: (t) => duration(t.avg_service_s) },
    { key: "c_idle_waiting", num: true, value: (t) => ({ text: duration(t.idle_with_waiting_s), tone: t.idle_with_waiting_s >= 60 ? "warn" : "" }) },
    { key: "c_paused", num: true, value: (t) => duration(t.paused_s) },
    { key: "c_signed_in", num: true, value: (t) => duration(t.signed_in_s) },
    { key: "c_ratings", num: true, value: (t) => ratings(t.ratings) },
  ], report.tellers, i18n);

  // The server lists every reason of the vocabulary, in its order, then any other that was used.
  const reasons = [...new Set(report.counters.flatMap((c) => Object.keys(c.paused_by_reason_s)))];
  fillTable($("table-counters"), [
    { key: "c_counter", value: (c) => i18n.t("counter_n", { n: c.number }) },
    { key: "c_signed_in", num: true, value: (c) => duration(c.signed_in_s) },
    { key: "c_paused", num: true, value: (c) => duration(c.paused_s) },
    { key: "c_pauses", num: true, value: (c) => String(c.pauses) },
    ...reasons.map((reason) => ({ heading: words.label("pause_reasons", reason), num: true, value: (c) => duration(c.paused_by_reason_s[reason] || 0) })),
    { key: "c_idle_waiting", num: true, value: (c) => ({ text: duration(c.idle_with_waiting_s), tone: c.idle_with_waiting_s >= 60 ? "warn" : "" }) },
  ], report.counters, i18n);

  fillTable($("table-pauses"), [
    { key: "c_reason", value: (p) => words.label("pause_reasons", p.reason) },
    { key: "c_count", num: true, value: (p) => String(p.count) },
    { key: "c_total", num: true, value: (p) => duration(p.total_s) },
    { key: "c_mean", num: true, value: (p) => duration(p.mean_s) },
    { key: "c_max", num: true, value: (p) => duration(p.max_s) },
  ], report.pauses, i18n);

  fillTable($("table-alerts"), [
    { key: "c_rule", value: (a) => words.label("alert_rules", a.rule) },
    { key: "c_raised", num: true, value: (a) => String(a.raised) },
    { key: "c_critical", num: true, value: (a) => ({ text: String(a.critical), tone: a.critical ? "bad" : "" }) },
    { key: "c_acknowledged", num: true, value: (a) => String(a.acknowledged) },
    { key: "c_open_now", num: true, value: (a) => String(a.open) },
    { key: "c_open_mean", num: true, value: (a) => duration(a.open_mean_s) },
    { key: "c_open_max", num: true, value: (a) => duration(a.open_max_s) },
    { key: "c_ack_mean", num: true, value: (a) => duration(a.ack_mean_s) },
    { key: "c_lead", num: true, value: (a) => (a.lead_mean_s == null ? none() : `${duration(a.lead_mean_s)} / ${duration(a.lead_min_s)}`) },
  ], report.alerts, i18n);
}

main();
