// The complaint sheet: the lobby manager records a customer's complaint in two taps — its kind (one
// of the six of the product brief, or other), then Record. It opens from a counter tile (that
// counter and its customer), an alert card (the card's ticket and counter, and the kind its rule
// foretells), the ticket just issued at the desk, or the top bar (nothing). What it is about is
// shown ticked and can be unticked; the customer's words are optional. The server links the
// complaint to the alert that warned of it, if any; a refusal (a ticket not of this branch) is
// shown in the sheet, which stays open with everything chosen.

import { api } from "/static/js/api.js";
import { el } from "/static/js/dom.js";

const $ = (id) => document.getElementById(id);

/** The complaint kind an alert's rule foretells (the dashboard suggests it from the card). */
export const KIND_FOR_RULE = {
  idle_counter: "idle_counter",
  paused_ratio: "counters_paused",
  long_pause: "counters_paused",
  short_queue_long_wait: "short_queue_wait",
  eta_broken: "short_queue_wait",
  service_level: "short_queue_wait",
  service_overrun: "idle_during_service",
  help_requested: "idle_during_service",
};

// While the sheet is open: {i18n, words, token, ticket, counter, counterName, rule, opener, onRecorded, sending}
let current = null;

/**
 * Open the sheet. ``ticket``: {id, number} or null; ``counter``: a counter number or null;
 * ``kind``: a suggested kind; ``rule``: the alert's rule when opened from a card;
 * ``counterName(n)``: "1号窗口（lin）"; ``onRecorded(complaint)``: the server's answer.
 */
export function openComplaintSheet({ i18n, words, token, ticket = null, counter = null, kind = null, rule = null,
                                     counterName, opener = null, onRecorded }) {
  const dialog = $("complaint-dialog");
  bind(dialog);
  current = { i18n, words, token, ticket, counter, counterName, rule, opener, onRecorded, sending: false };
  $("complaint-text").value = "";
  $("complaint-error").hidden = true;
  render(kind);
  setSending(false);
  dialog.showModal();
  const chosen = dialog.querySelector("input[name='complaint-kind']:checked");
  (chosen || dialog.querySelector("input[name='complaint-kind']")).focus();
}

/** The language changed while the sheet is open: its words follow, the choices stay. */
export function renderComplaintSheet() {
  if (!current) return;
  const chosen = $("complaint-dialog").querySelector("input[name='complaint-kind']:checked");
  const about = aboutTicked();
  render(chosen ? chosen.value : null, about);
}

function render(kind, ticked = { counter: true, ticket: true }) {
  const { i18n, words, ticket, counter, counterName, rule } = current;
  i18n.apply($("complaint-dialog"));
  $("complaint-source").hidden = !rule;
  $("complaint-source").textContent = rule ? i18n.t("complaint_from_alert", { rule: words.label("alert_rules", rule) }) : "";

  const chips = [];
  if (counter != null) chips.push(aboutChip("counter", counterName(counter), ticked.counter));
  if (ticket) chips.push(aboutChip("ticket", i18n.t("instr_ticket", { number: ticket.number }), ticked.ticket));
  $("complaint-chips").replaceChildren(...chips);
  $("complaint-about-none").hidden = chips.length > 0;

  const options = words.terms("complaint_kinds").map((term, index) => {
    const option = el("label", "desk-option complaint-kind-option");
    const input = el("input");
    input.type = "radio";
    input.name = "complaint-kind";
    input.value = term.code;
    input.checked = term.code === kind;
    input.setAttribute("aria-keyshortcuts", String(index + 1));
    option.dataset.kind = term.code;
    option.append(input, el("span", "complaint-kind-label", i18n.pick(term.label)));
    return option;
  });
  $("complaint-kinds").replaceChildren(...options);
}

/** What the complaint is about, ticked: a tap unticks it (the complaint is then not about it). */
function aboutChip(name, label, checked) {
  const chip = el("label", "complaint-chip");
  chip.dataset.about = name;
  const box = el("input");
  box.type = "checkbox";
  box.name = `complaint-about-${name}`;
  box.checked = checked;
  chip.append(box, el("span", "", label));
  return chip;
}

function aboutTicked() {
  const ticked = (name) => $("complaint-chips").querySelector(`[data-about='${name}'] input`)?.checked ?? true;
  return { counter: ticked("counter"), ticket: ticked("ticket") };
}

function bind(dialog) {
  if (dialog.dataset.bound) return;
  dialog.dataset.bound = "1";
  $("complaint-form").addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  $("complaint-cancel").addEventListener("click", () => dialog.close());
  // Esc closes (the browser's cancel), except while the complaint is on its way: its answer would be lost.
  dialog.addEventListener("cancel", (event) => {
    if (current && current.sending) event.preventDefault();
  });
  // Digits 1-7 pick a kind, when not typing the customer's words.
  dialog.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing || event.target.matches("textarea")) return;
    const input = dialog.querySelector(`input[name='complaint-kind'][aria-keyshortcuts='${CSS.escape(event.key)}']`);
    if (!input) return;
    event.preventDefault();
    input.checked = true;
    input.focus();
    $("complaint-error").hidden = true;
  });
  dialog.addEventListener("change", () => { $("complaint-error").hidden = true; });
  dialog.addEventListener("close", () => {
    const opener = current?.opener;
    current = null;
    if (opener && opener.isConnected) opener.focus();
  });
}

async function submit() {
  if (!current || current.sending) return;
  const { i18n, token, ticket, counter } = current;
  const chosen = $("complaint-dialog").querySelector("input[name='complaint-kind']:checked");
  if (!chosen) {
    showError(i18n.t("complaint_choose_kind"));
    $("complaint-dialog").querySelector("input[name='complaint-kind']").focus();
    return;
  }
  const about = aboutTicked();
  const body = { kind: chosen.value };
  if (counter != null && about.counter) body.counter = counter;
  if (ticket && about.ticket) body.ticket = ticket.id;
  const text = $("complaint-text").value.trim();
  if (text) body.text = text;
  setSending(true);
  try {
    const recorded = await api("/complaints", { body, token });
    const { onRecorded } = current;
    setSending(false);
    $("complaint-dialog").close();
    onRecorded(recorded);
  } catch (problem) {
    if (!current) return;
    setSending(false);
    showError(problemText(problem, i18n));
  }
}

function problemText(problem, i18n) {
  if (problem.code === "network") return i18n.t("err_network");
  if (problem.status === 401) return i18n.t("desk_err_session");
  if (problem.code === "unknown_ticket") return i18n.t("complaint_err_unknown_ticket");
  if (problem.code === "unknown_counter") return i18n.t("complaint_err_unknown_counter");
  return i18n.t("err_generic", { message: problem.message });
}

function setSending(sending) {
  current.sending = sending;
  const button = $("complaint-submit");
  button.disabled = sending;
  button.textContent = current.i18n.t(sending ? "complaint_sending" : "complaint_submit");
  $("complaint-dialog").setAttribute("aria-busy", String(sending));
}

function showError(text) {
  const box = $("complaint-error");
  box.textContent = text;
  box.hidden = false;
}
