// "Issue a ticket" at the lobby desk: the manager issues a ticket for a customer who should not
// queue at the kiosk (a priority customer: elderly, disabled, pregnant) or whom the kiosk refused.
// The dialog asks for the service (with its live wait), priority and the customer's language, then
// shows the ticket large enough to read out, with its QR code to scan and a Print button.
//
// One Idempotency-Key per opening of the dialog: a double tap, or a retry after a lost answer,
// gives back the ticket already issued instead of a second one.

import { api, newIdempotencyKey } from "/static/js/api.js";
import { el } from "/static/js/dom.js";
import { dateTime, minutes } from "/static/js/format.js";
import { colourOf } from "./charts.js";

const $ = (id) => document.getElementById(id);

// Each language in its own name, as the customer recognises it.
const OWN_NAMES = { zh: "中文", en: "English" };

// While the dialog is open: {i18n, token, languages, timeZone, branchName, key, services, sending,
// ticket, opener, closedText, onComplaint}
let current = null;

/**
 * Open the dialog. ``languages``: the branch's (GET /branch), the first one preselected;
 * ``closedText(lang)``: the next opening in that language, from the hours the dashboard holds (the
 * server's branch_closed message is in the customer's language, which may not be the manager's).
 * ``onComplaint(ticket)``: the issued ticket's "Record complaint" (the dialog closes first).
 */
export async function openDeskTicketDialog({ i18n, token, languages, timeZone, branchName, services = [],
                                             closedText = () => "", opener = null, onComplaint = null }) {
  const dialog = $("desk-dialog");
  bind(dialog);
  current = {
    i18n, token, languages: languages.length ? languages : ["zh"], timeZone, branchName, closedText, opener,
    key: newIdempotencyKey(), services, sending: false, ticket: null, onComplaint,
  };
  $("desk-complaint").hidden = !onComplaint;
  $("desk-form").hidden = false;
  $("desk-result").hidden = true;
  dialog.setAttribute("aria-labelledby", "desk-title");
  $("desk-priority").checked = false;
  hideError();
  setSending(false);
  renderLanguages(current.languages[0]);
  renderServices(null);
  i18n.apply(dialog);
  dialog.showModal();
  focusFirst();
  // The live waits, fresh (the snapshot's may be a moment old).
  try {
    const fresh = await api("/services", { token });
    if (current && !current.ticket) {
      current.services = fresh;
      renderServices(chosenService());
    }
  } catch (error) {
    // The list from the dashboard's snapshot stays; the issue itself will say if the server is away.
  }
}

/** queue_changed while the dialog is open: its waits follow. */
export function refreshDeskWaits(updates) {
  if (!current || current.ticket) return;
  for (const update of updates || []) {
    const service = current.services.find((s) => s.code === update.code);
    if (service) Object.assign(service, update);
  }
  renderServices(chosenService());
}

function bind(dialog) {
  if (dialog.dataset.bound) return;
  dialog.dataset.bound = "1";
  $("desk-form").addEventListener("submit", (event) => {
    event.preventDefault();
    issue();
  });
  $("desk-cancel").addEventListener("click", () => dialog.close());
  $("desk-close").addEventListener("click", () => dialog.close());
  $("desk-print-button").addEventListener("click", () => window.print());
  $("desk-complaint").addEventListener("click", () => {
    const { ticket, onComplaint } = current;
    current.opener = null; // the complaint sheet takes the focus
    dialog.close();
    onComplaint({ id: ticket.id, number: ticket.number });
  });
  // Esc closes (the browser's cancel), except while the ticket is being issued: its answer would be lost.
  dialog.addEventListener("cancel", (event) => {
    if (current && current.sending) event.preventDefault();
  });
  dialog.addEventListener("keydown", trapFocus);
  dialog.addEventListener("close", () => {
    const opener = current?.opener;
    current = null;
    if (opener && opener.isConnected) opener.focus();
  });
}

/** Tab and Shift+Tab go round the dialog's own controls. */
function trapFocus(event) {
  if (event.key !== "Tab") return;
  const items = focusable();
  if (!items.length) return;
  const first = items[0];
  const last = items[items.length - 1];
  const inside = items.includes(document.activeElement);
  if (event.shiftKey && (document.activeElement === first || !inside)) {
    event.preventDefault();
    last.focus();
  } else if (!event.shiftKey && (document.activeElement === last || !inside)) {
    event.preventDefault();
    first.focus();
  }
}

/** The controls Tab reaches in the visible part of the dialog (one per radio group, as browsers do). */
function focusable() {
  const seen = new Set();
  return [...$("desk-dialog").querySelectorAll("button, input, [tabindex]:not([tabindex='-1'])")]
    .filter((element) => !element.disabled && element.getClientRects().length > 0)
    .filter((element) => {
      if (element.type !== "radio") return true;
      const group = document.querySelectorAll(`input[type=radio][name="${element.name}"]`);
      const stop = [...group].find((radio) => radio.checked) || group[0];
      if (element !== stop || seen.has(element.name)) return false;
      seen.add(element.name);
      return true;
    });
}

function focusFirst() {
  const checked = document.querySelector("input[name='desk-service']:checked");
  (checked || document.querySelector("input[name='desk-service']") || $("desk-confirm")).focus();
}

function chosenService() {
  return document.querySelector("input[name='desk-service']:checked")?.value ?? null;
}

function chosenLanguage() {
  return document.querySelector("input[name='desk-lang']:checked")?.value ?? current.languages[0];
}

// --- the form ------------------------------------------------------------------------------------

function waitWords(service, lang) {
  const { i18n } = current;
  if (service.staffed_counters === 0 || service.estimated_wait_s == null) return i18n.t("desk_no_counter", {}, lang);
  return minutes(service.estimated_wait_s, lang);
}

function renderServices(chosen) {
  const { i18n } = current;
  const hadFocus = document.activeElement?.name === "desk-service" ? document.activeElement.value : null;
  const options = current.services.map((service, index) => {
    const option = el("label", "desk-option desk-service");
    option.dataset.service = service.code;
    const input = el("input");
    input.type = "radio";
    input.name = "desk-service";
    input.value = service.code;
    input.checked = service.code === chosen;
    input.addEventListener("change", hideError);
    const badge = el("span", "service-code", service.code);
    badge.style.backgroundColor = colourOf(index);
    const text = el("span", "desk-option-text");
    text.append(el("span", "desk-service-name", i18n.pick(service.name)));
    const waiting = i18n.t("desk_waiting", { n: service.waiting ?? 0 });
    text.append(el("span", "desk-service-wait", `${waiting} · ${waitWords(service, i18n.lang)}`));
    option.append(input, badge, text);
    return option;
  });
  $("desk-services").replaceChildren(...options);
  if (hadFocus) document.querySelector(`input[name='desk-service'][value="${hadFocus}"]`)?.focus();
}

function renderLanguages(chosen) {
  const options = current.languages.map((lang) => {
    const option = el("label", "desk-option desk-lang");
    option.dataset.lang = lang;
    const input = el("input");
    input.type = "radio";
    input.name = "desk-lang";
    input.value = lang;
    input.checked = lang === chosen;
    const name = el("span", "desk-lang-name", OWN_NAMES[lang] || lang);
    name.lang = lang === "zh" ? "zh-CN" : lang;
    option.append(input, name);
    return option;
  });
  $("desk-langs").replaceChildren(...options);
}

function setSending(sending) {
  if (current) current.sending = sending;
  const button = $("desk-confirm");
  button.disabled = sending;
  button.textContent = current.i18n.t(sending ? "desk_sending" : "desk_confirm");
  $("desk-form").setAttribute("aria-busy", String(sending));
}

function showError(text, detail = "", detailLang = null) {
  const box = $("desk-error");
  box.replaceChildren(el("span", "desk-error-text", text));
  if (detail) {
    const more = el("span", "desk-error-detail", detail);
    if (detailLang) more.lang = detailLang === "zh" ? "zh-CN" : detailLang;
    box.append(" ", more);
  }
  box.hidden = false;
}

function hideError() {
  $("desk-error").hidden = true;
}

async function issue() {
  if (!current || current.sending || current.ticket) return;
  const { i18n, token, key } = current;
  const service = chosenService();
  if (!service) {
    showError(i18n.t("desk_choose_service"));
    document.querySelector("input[name='desk-service']")?.focus();
    return;
  }
  const lang = chosenLanguage();
  const body = { service, lang, priority: $("desk-priority").checked };
  hideError();
  setSending(true);
  const asked = current;
  try {
    const ticket = await api("/tickets", { body, token, headers: { "Idempotency-Key": key } });
    if (current !== asked) return; // closed meanwhile (it cannot be while sending, but be safe)
    current.ticket = ticket;
    setSending(false);
    showTicket(ticket);
  } catch (problem) {
    if (current !== asked) return;
    setSending(false);
    explain(problem, lang);
    $("desk-confirm").focus();
  }
}

/** The manager's words for what went wrong. */
function explain(problem, lang) {
  const { i18n } = current;
  if (problem.code === "branch_closed") {
    // The server's message names the next opening in the customer's language; in the manager's
    // own language the dashboard's hours say the same.
    const local = lang === i18n.lang ? "" : current.closedText(i18n.lang);
    showError(i18n.t("desk_err_closed"), local || problem.message, local ? null : lang);
  } else if (problem.code === "unknown_service") {
    showError(i18n.t("desk_err_unknown_service"));
    api("/services", { token: current.token }).then((fresh) => {
      if (!current || current.ticket) return;
      current.services = fresh;
      renderServices(null);
    }).catch(() => {});
  } else if (problem.code === "unknown_language") {
    showError(i18n.t("desk_err_unknown_language"));
  } else if (problem.code === "network") {
    showError(i18n.t("err_network"));
  } else if (problem.status === 401) {
    showError(i18n.t("desk_err_session"));
  } else {
    showError(i18n.t("err_generic", { message: problem.message }));
  }
}

// --- the ticket ----------------------------------------------------------------------------------

function showTicket(ticket) {
  const { i18n } = current;
  $("desk-form").hidden = true;
  $("desk-result").hidden = false;
  $("desk-dialog").setAttribute("aria-labelledby", "desk-result-title");
  // On screen in the manager's language, to read out; on paper in the customer's.
  $("desk-ticket").replaceChildren(...ticketCard(ticket, i18n.lang));
  const paperLang = ticket.lang || i18n.lang;
  $("desk-print").replaceChildren(...ticketCard(ticket, paperLang, { paper: true }));
  $("desk-print").lang = paperLang === "zh" ? "zh-CN" : paperLang;
  $("desk-result").dataset.ticket = ticket.number;
  $("desk-result").dataset.priority = String(Boolean(ticket.priority));
  i18n.apply($("desk-result"));
  $("desk-print-button").focus();
}

function ticketCard(ticket, lang, { paper = false } = {}) {
  const { i18n } = current;
  const t = (key, params = {}) => i18n.t(key, params, lang);
  const parts = [];
  if (paper) parts.push(el("p", "desk-paper-branch", i18n.pick(current.branchName, lang)));
  const main = el("div", "desk-ticket-main");
  const number = el("p", "desk-number", ticket.number);
  main.append(number);
  if (ticket.priority) main.append(el("p", "desk-priority-mark", t("priority_ticket")));
  const serviceName = i18n.pick(ticket.service_name, lang) || ticket.service;
  main.append(el("p", "desk-ticket-service", `${ticket.service} · ${serviceName}`));
  const facts = el("dl", "desk-facts");
  const ahead = ticket.people_ahead ?? Math.max(0, (ticket.position ?? 1) - 1);
  const wait = ticket.estimated_wait_s == null ? t("desk_wait_none") : minutes(ticket.estimated_wait_s, lang);
  for (const [name, label, value, note] of [
    ["ahead", t("desk_ahead"), t("desk_ahead_n", { n: ahead }), ticket.position ? t("desk_position", { n: ticket.position }) : ""],
    ["wait", t("desk_wait"), wait, ""],
  ]) {
    const fact = el("div", `desk-fact desk-fact-${name}`);
    fact.append(el("dt", "", label), el("dd", "desk-fact-value", value));
    if (note) fact.append(el("dd", "desk-fact-note", note));
    facts.append(fact);
  }
  main.append(facts);
  if (ticket.fits_before_close === false) main.append(el("p", "desk-late", t("desk_late")));
  if (paper) main.append(el("p", "desk-paper-time", t("desk_issued_at", { time: dateTime(ticket.issued_at, current.timeZone) })));
  parts.push(main);

  const qr = el("figure", "desk-qr");
  const image = el("img");
  image.src = ticket.qr_svg_url;
  image.alt = t("desk_qr_alt", { number: ticket.number });
  image.width = 176;
  image.height = 176;
  qr.append(image, el("figcaption", "", t("desk_scan")));
  parts.push(qr);
  return parts;
}
