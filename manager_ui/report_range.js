// The report page's date-range view (issue 18): the figures of GET /api/v1/reports/range from one
// day to another — headline tiles (with "complaints an alert warned of" and "incidents with no
// complaint"), the weekly trend per kind of complaint and incident, the tables, and their CSV
// downloads. report.js owns the page (log-in, the Day | Range switch, the URL); this module fills
// the range's own section and form.

import { dateTime, dayName, localDay, timeOfDay } from "/static/js/format.js";
import { el } from "/static/js/dom.js";
import { barChart, colourOf, stackedBarChart } from "./charts.js";
import { duration as durationOf, fillTable, levelTone, percent as percentOf, setTile, stars } from "./report_table.js";

export const MAX_RANGE_DAYS = 93; // the API's limit: 'to' at most 92 days after 'from'
// The vocabulary's complaint kinds in the order the API counts them, for before it has loaded.
const COMPLAINT_KINDS = ["teller_error", "inconsistent_instructions", "short_queue_wait", "idle_during_service",
  "idle_counter", "counters_paused", "other"];
// The incident kinds (server/simulator/incidents.py) and the complaint kind each would become: one
// colour for the two, so the charts of complaints and incidents read side by side.
const INCIDENT_KINDS = { short_queue: "short_queue_wait", idle_counter: "idle_counter",
  paused_ratio: "counters_paused", service_overrun: "idle_during_service" };

// --- days as "YYYY-MM-DD" -----------------------------------------------------------------------

const dayOf = (text) => new Date(`${text}T00:00:00Z`);
const isoDay = (date) => date.toISOString().slice(0, 10);

export function addDays(text, n) {
  const date = dayOf(text);
  date.setUTCDate(date.getUTCDate() + n);
  return isoDay(date);
}

export function daysBetween(from, to) {
  return Math.round((dayOf(to) - dayOf(from)) / 86400e3);
}

const mondayOf = (text) => addDays(text, -((dayOf(text).getUTCDay() + 6) % 7));

/** A quick pick's range ending ``today``: "4w" and "8w" are whole ISO weeks up to today, "month" this month so far. */
export function presetRange(pick, today) {
  if (pick === "month") return { from: `${today.slice(0, 8)}01`, to: today };
  const weeks = pick === "8w" ? 8 : 4;
  return { from: addDays(mondayOf(today), -7 * (weeks - 1)), to: today };
}

const isDay = (text) => typeof text === "string" && /^\d{4}-\d{2}-\d{2}$/.test(text) && !Number.isNaN(dayOf(text).getTime());

// --- the view -----------------------------------------------------------------------------------

/**
 * The range view. ``request(path)`` asks the API with the manager's token; ``fail(error)`` deals with
 * a refusal (report.js: a lapsed log-in, the network); ``branch.now`` is the server's time when the
 * page loaded (the branch's clock, manual in tests), which makes "today"; ``onRange`` hears of each
 * range shown (report.js keeps it in the URL).
 */
export function createRangeView({ i18n, words, branch, timeZone, request, showError, fail, onRange }) {
  const $ = (id) => document.getElementById(id);
  const none = () => i18n.t("none");
  const percent = (share) => percentOf(share, i18n);
  const duration = (seconds) => durationOf(seconds, i18n);
  const loadedAt = Date.now();
  const serverNow = Date.parse(branch?.now || "") || loadedAt;
  const state = { report: null, from: null, to: null, loading: 0 };
  const charts = {
    complaints: stackedBarChart($("chart-range-complaints"), { height: 230 }),
    incidents: stackedBarChart($("chart-range-incidents"), { height: 230 }),
    serviceLevel: barChart($("chart-range-service-level"), { height: 230 }),
  };

  /** Today in the branch's time zone, by the server's clock. */
  const today = () => localDay(serverNow + (Date.now() - loadedAt), timeZone);

  $("range-form").addEventListener("submit", (event) => {
    event.preventDefault();
    show({ from: $("range-from").value, to: $("range-to").value });
  });
  for (const button of document.querySelectorAll("#range-picks button[data-pick]")) {
    button.addEventListener("click", () => show(presetRange(button.dataset.pick, today())));
  }

  /** Show the range {from, to} (the default, the last four ISO weeks, for a missing or bad one). */
  async function show(range = {}) {
    let { from, to } = range;
    if (!isDay(from) || !isDay(to)) ({ from, to } = presetRange("4w", today()));
    $("range-from").value = from;
    $("range-to").value = to;
    const refusal = daysBetween(from, to) < 0 ? i18n.t("range_err_order")
      : daysBetween(from, to) >= MAX_RANGE_DAYS ? i18n.t("range_err_long", { n: MAX_RANGE_DAYS }) : "";
    showError(refusal);
    if (refusal) return;
    state.from = from;
    state.to = to;
    onRange({ from, to });
    updateLinks();
    const ticket = ++state.loading;
    $("view-range").setAttribute("aria-busy", "true");
    $("range-period").textContent = i18n.t("range_loading");
    try {
      const report = await request(`/reports/range?from=${from}&to=${to}`);
      if (ticket !== state.loading) return;
      state.report = report;
      render();
    } catch (error) {
      if (ticket === state.loading) {
        $("range-period").textContent = "";
        fail(error);
      }
    } finally {
      if (ticket === state.loading) $("view-range").removeAttribute("aria-busy");
    }
  }

  function csvHref(table) {
    const query = new URLSearchParams({ from: state.from, to: state.to });
    if (table) query.set("table", table);
    query.set("lang", i18n.lang);
    return `/api/v1/reports/range.csv?${query}`;
  }

  /**
   * The CSV links follow the range and the language. Plain links, as the day's: the log-in's
   * session cookie authenticates them (manager_ui/session.js).
   */
  function updateLinks() {
    if (!state.from) return;
    const code = state.report?.branch?.code || branch?.code || "report";
    for (const link of document.querySelectorAll("#view-range a[data-csv], #range-csv-link")) {
      const table = link.dataset.csv || "";
      link.href = csvHref(table);
      link.setAttribute("download", `callwise-${code}-${state.from}-${state.to}${table ? `-${table}` : ""}.csv`);
      if (table) link.setAttribute("aria-label", i18n.t("table_csv_label", { table: i18n.t(`rt_${table}`) }));
    }
  }

  // --- rendering --------------------------------------------------------------------------------

  function render() {
    updateLinks();
    const report = state.report;
    if (!report) return;
    const days = daysBetween(report.from, report.to) + 1;
    $("range-period").textContent = i18n.t("range_period", { from: report.from, to: report.to, days, tz: report.timezone });
    renderTiles(report.total);
    renderCharts(report);
    renderTables(report);
  }

  const complaintKinds = () => {
    const codes = words.terms("complaint_kinds").map((term) => term.code);
    return codes.length ? codes : COMPLAINT_KINDS;
  };
  const complaintLabel = (code) => words.label("complaint_kinds", code);
  const incidentLabel = (code) => words.label("incident_kinds", code);
  const weekNumber = (week) => Number(String(week).split("-W")[1]) || week;
  const shortDate = (day) => day.slice(5);
  const yesNo = (value) => (value == null ? none() : i18n.t(value ? "yes" : "no"));
  const count = (n) => (n == null ? none() : String(n));

  function renderTiles(t) {
    const tile = (id, ...shown) => setTile($(id), ...shown);
    tile("rkpi-tickets", String(t.tickets), i18n.t("rk_served", { n: t.served }));
    tile("rkpi-service-level", percent(t.service_level),
      t.service_level_counted ? i18n.t("kpi_counted", { met: t.service_level_met, counted: t.service_level_counted }) : "",
      levelTone(t.service_level));
    tile("rkpi-avg-wait", duration(t.avg_wait_s),
      t.worst_day_p90_wait_s == null ? "" : i18n.t("rk_avg_wait_note", { wait: duration(t.worst_day_p90_wait_s) }));
    tile("rkpi-errors", percent(t.error_rate), i18n.t("kpi_outcomes", { redo: t.outcomes.redo ?? 0, error: t.outcomes.error ?? 0 }),
      (t.outcomes.redo ?? 0) + (t.outcomes.error ?? 0) > 0 ? "warn" : "");
    const [topKind, topCount] = Object.entries(t.complaints || {}).sort((a, b) => b[1] - a[1])[0] || [null, 0];
    tile("rkpi-complaints", String(t.complaints_total),
      topCount ? i18n.t("rk_complaints_top", { kind: complaintLabel(topKind), n: topCount }) : "");
    tile("rkpi-warned", t.complaints_total ? `${t.complaints_warned} / ${t.complaints_total}` : "0",
      t.complaints_total ? i18n.t("rk_warned_note", { share: percent(t.complaints_warned_share), acted: t.complaints_warned_acted }) : "");
    if (t.incidents_total == null) {
      tile("rkpi-incidents", none(), i18n.t("rk_not_counted"));
    } else {
      tile("rkpi-incidents", String(t.incidents_no_complaint),
        i18n.t("rk_incidents_note", { total: t.incidents_total, warned: t.incidents_warned ?? none() }));
    }
    tile("rkpi-ratings", t.ratings.count ? `${t.ratings.mean.toFixed(1)}★` : none(),
      i18n.t("rk_ratings_note", { n: t.ratings.count }));
  }

  /** A chart, its empty-state message, and its figures as a table (what a screen reader or a test reads). */
  function chartPanel(name, { drawn, empty, note = "", columns, rows }) {
    const message = $(`chart-range-${name}-empty`);
    message.textContent = drawn ? note : empty;
    message.hidden = !message.textContent;
    message.classList.toggle("chart-empty", !drawn);
    $(`chart-range-${name}`).hidden = !drawn;
    $(`chart-range-${name}-figures`).hidden = !drawn;
    fillTable($(`table-range-${name}-chart`), columns, drawn ? rows : [], i18n);
  }

  function renderCharts(report) {
    const weeks = report.weeks || [];
    const labels = weeks.map((w) => i18n.t("week_short", { n: weekNumber(w.week) }));
    const oneWeek = weeks.length === 1 ? i18n.t("rchart_one_week") : "";
    const weekColumn = { key: "rc_week", value: (w) => i18n.t("week_span", { n: weekNumber(w.week), from: shortDate(w.from), to: shortDate(w.to) }) };

    const kinds = complaintKinds();
    const complaints = kinds.map((code, i) => ({
      code, label: complaintLabel(code), colour: colourOf(i), values: weeks.map((w) => w.complaints?.[code] ?? 0),
    }));
    const anyComplaint = (report.total.complaints_total || 0) > 0;
    chartPanel("complaints", {
      drawn: anyComplaint && charts.complaints.update({ labels, groups: complaints }),
      empty: i18n.t("rchart_no_complaints"),
      note: oneWeek,
      columns: [weekColumn, ...complaints.map((g) => ({ heading: g.label, num: true, value: (w) => String(w.complaints?.[g.code] ?? 0) })),
        { key: "c_total", num: true, value: (w) => String(w.complaints_total ?? 0) }],
      rows: weeks,
    });
    if (!anyComplaint) charts.complaints.update({ labels: [], groups: [] });

    const incidents = Object.entries(INCIDENT_KINDS).map(([code, complaintKind]) => ({
      code, label: incidentLabel(code), colour: colourOf(Math.max(0, kinds.indexOf(complaintKind))),
      values: weeks.map((w) => w.incidents?.[code] ?? 0),
    }));
    const anyIncident = (report.total.incidents_total || 0) > 0;
    chartPanel("incidents", {
      drawn: anyIncident && charts.incidents.update({ labels, groups: incidents }),
      empty: report.total.incidents_total == null ? i18n.t("rk_not_counted") : i18n.t("rchart_no_incidents"),
      note: oneWeek,
      columns: [weekColumn, ...incidents.map((g) => ({ heading: g.label, num: true, value: (w) => String(w.incidents?.[g.code] ?? 0) })),
        { key: "c_total", num: true, value: (w) => String(w.incidents_total ?? 0) }],
      rows: weeks,
    });
    if (!anyIncident) charts.incidents.update({ labels: [], groups: [] });

    const levels = weeks.map((w) => (w.service_level == null ? null : Math.round(w.service_level * 1000) / 10));
    const anyLevel = levels.some((v) => v != null);
    chartPanel("service-level", {
      drawn: anyLevel && charts.serviceLevel.update({
        labels, unit: "%", max: 100,
        groups: [{ label: i18n.t("c_service_level"), colour: "#0b5cad", values: levels }],
      }),
      empty: i18n.t("rchart_no_service_level"),
      note: oneWeek,
      columns: [weekColumn,
        { key: "c_service_level", num: true, value: (w) => ({ text: percent(w.service_level), tone: levelTone(w.service_level) }) },
        { key: "rc_met", num: true, value: (w) => `${w.service_level_met}/${w.service_level_counted}` }],
      rows: weeks,
    });
    if (!anyLevel) charts.serviceLevel.update({ labels: [], groups: [] });
  }

  /** The columns a week's row and a day's row share. */
  function figureColumns() {
    return [
      { key: "c_tickets", num: true, value: (r) => String(r.tickets) },
      { key: "c_served", num: true, value: (r) => String(r.served) },
      { key: "c_service_level", num: true, value: (r) => ({ text: percent(r.service_level), tone: levelTone(r.service_level) }) },
      { key: "c_avg_wait", num: true, value: (r) => duration(r.avg_wait_s) },
      { key: "c_p90_wait", num: true, value: (r) => duration(r.worst_day_p90_wait_s) },
      { key: "c_error_rate", num: true, value: (r) => ({ text: percent(r.error_rate), tone: r.error_rate ? "warn" : "" }) },
      { key: "rc_complaints", num: true, value: (r) => ({ text: String(r.complaints_total), tone: r.complaints_total ? "bad" : "" }) },
      { key: "rc_warned", num: true, value: (r) => String(r.complaints_warned) },
      { key: "rc_incidents", num: true, value: (r) => count(r.incidents_total) },
      { key: "rc_no_complaint", num: true, value: (r) => count(r.incidents_no_complaint) },
      { key: "rc_alerts", num: true, value: (r) => String(r.alerts_raised) },
      { key: "rc_acted", num: true, value: (r) => count(r.alerts_acted) },
      { key: "c_ratings", num: true, value: (r) => (r.ratings.count ? i18n.t("rating_value", { n: r.ratings.count, mean: r.ratings.mean.toFixed(1) }) : none()) },
    ];
  }

  function where(ticket, counter) {
    const parts = [];
    if (ticket) parts.push(ticket.number);
    if (counter != null) parts.push(i18n.t("counter_n", { n: counter }));
    return parts.length ? parts.join(" · ") : none();
  }

  function renderTables(report) {
    fillTable($("table-range-weeks"), [
      { key: "rc_week", value: (w) => i18n.t("week_span", { n: weekNumber(w.week), from: shortDate(w.from), to: shortDate(w.to) }) },
      ...figureColumns(),
    ], report.weeks || [], i18n);

    const days = report.days || [];
    $("range-days-summary").textContent = i18n.t("rt_days_summary", { n: days.length });
    const details = $("range-days-details");
    if (details.dataset.range !== `${report.from}/${report.to}`) {
      details.dataset.range = `${report.from}/${report.to}`;
      details.open = days.length <= 14; // a month of days stays folded until asked for
    }
    fillTable($("table-range-days"), [
      { key: "rc_date", value: (d) => ({ text: `${d.date} ${dayName(`${d.date}T12:00:00Z`, i18n.lang, "UTC")}`, tone: "nowrap" }) },
      ...figureColumns(),
    ], days, i18n);

    const alerts = report.total.alerts || {};
    const ruleOrder = words.terms("alert_rules").map((term) => term.code);
    const rules = Object.keys(alerts).sort((a, b) => {
      const rank = (rule) => (ruleOrder.includes(rule) ? ruleOrder.indexOf(rule) : ruleOrder.length);
      return rank(a) - rank(b);
    });
    fillTable($("table-range-alerts"), [
      { key: "c_rule", value: (rule) => words.label("alert_rules", rule) },
      { key: "c_raised", num: true, value: (rule) => String(alerts[rule].raised) },
      { key: "c_critical", num: true, value: (rule) => ({ text: String(alerts[rule].critical), tone: alerts[rule].critical ? "bad" : "" }) },
      { key: "c_acknowledged", num: true, value: (rule) => String(alerts[rule].acknowledged) },
      { key: "rc_acted", num: true, value: (rule) => count(alerts[rule].acted) },
    ], rules, i18n);

    fillTable($("table-range-complaints"), [
      { key: "c_time", value: (c) => ({ text: dateTime(c.recorded_at, timeZone), tone: "nowrap" }) },
      { key: "rc_kind", value: (c) => ({ text: words.label("complaint_kinds", c.kind), tone: "kind" }) },
      { key: "rc_where", value: (c) => ({ text: where(c.ticket, c.counter), tone: "nowrap" }) },
      { key: "rc_text", value: (c) => ({ text: c.text || none(), tone: "comment" }) },
      { key: "rc_recorded_by", value: (c) => c.recorded_by || none() },
      { key: "rc_alert_before", value: (c) => (c.warned ? { text: words.label("alert_rules", c.warned.rule), tone: "good" } : none()) },
      { key: "rc_lead", num: true, value: (c) => ({ text: c.warned ? duration(c.warned.lead_s) : none(), tone: "nowrap" }) },
      { key: "rc_acted", value: (c) => (c.warned ? yesNo(c.warned.acted) : none()) },
    ], report.complaints || [], i18n);

    fillTable($("table-range-incidents"), [
      { key: "rc_kind", value: (n) => ({ text: incidentLabel(n.kind), tone: "kind" }) },
      { key: "rc_date", value: (n) => ({ text: n.date || localDay(n.at, timeZone), tone: "nowrap" }) },
      { key: "rc_time_span", value: (n) => ({ text: [n.start, n.end || n.at].filter(Boolean).map((t) => timeOfDay(t, timeZone)).join("–"), tone: "nowrap" }) },
      { key: "rc_where", value: (n) => ({ text: where(n.ticket, n.counter), tone: "nowrap" }) },
      { key: "rc_warned", value: (n) => ({ text: yesNo(n.warned), tone: n.warned ? "good" : "" }) },
      { key: "rc_complained", value: (n) => ({ text: yesNo(n.complaint != null), tone: n.complaint != null ? "bad" : "" }) },
    ], report.incidents || [], i18n);

    fillTable($("table-range-comments"), [
      { key: "c_time", value: (c) => ({ text: dateTime(c.rated_at, timeZone), tone: "nowrap" }) },
      { key: "c_number", value: (c) => c.number },
      { key: "c_stars", value: (c) => ({ text: stars(c.stars), tone: c.stars <= 2 ? "bad stars" : "stars", label: `${c.stars}★` }) },
      { key: "c_comment", value: (c) => ({ text: c.comment || none(), tone: "comment" }) },
      { key: "c_counter", value: (c) => ({ text: c.counter == null ? none() : i18n.t("counter_n", { n: c.counter }), tone: "nowrap" }) },
      { key: "c_teller", value: (c) => (c.teller && typeof c.teller === "object" ? c.teller.name : c.teller) || none() },
    ], report.rating_comments || [], i18n);
  }

  return {
    show,
    render,
    /** The range shown now, or null before the first. */
    range: () => (state.from ? { from: state.from, to: state.to } : null),
  };
}
