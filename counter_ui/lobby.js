// The counter's line to the lobby manager: the manager's instructions (a banner that cannot be
// missed, with a chime, answered "done" or "cannot" with a reason), the reason of a help request,
// "the customer was told something different in the lobby" (a complaint of kind
// inconsistent_instructions naming the document or rule in question), and a complaint of any kind
// about this counter and its customer.
//
// The console (counter.js) owns the counter and its live connection; it hands this module what it
// hears and asks it about keys first. Everything here is answered by the server through the API.

import { api } from "/static/js/api.js";
import { keyedOption } from "/static/js/dom.js";
import { ago } from "/static/js/format.js";
import { isTyping, keyOf } from "./model.js";
import { unlockAudio } from "/static/js/audio.js";
import { playChime } from "./chime.js";

const $ = (id) => document.getElementById(id);

/** Keys of this module, beside the console's own (model.js ACTIONS): keypad * and /, 6, and C. */
export const LOBBY_KEYS = { done: "*", cannot: "/", toldOtherwise: "6", complaint: "C" };

// Quick reasons for "cannot"; the teller's own words may follow, or stand alone for "other".
const CANNOT_REASONS = ["cannot_busy", "cannot_service", "cannot_system"];

/**
 * The lobby part of the console. ``ctx``: {i18n, words, token(), counter(), services(),
 * clock(), showError(error, label), clearError(), recorded(complaint)}.
 */
export function createLobby(ctx) {
  const { t, pick } = ctx.i18n;
  const open = new Map(); // id -> unanswered instruction of this counter
  let answering = false;
  let dialogDone = null; // resolves the open dialog's promise

  for (const type of ["pointerdown", "keydown"]) document.addEventListener(type, unlockAudio, { once: true });
  $("instruction-done").addEventListener("click", () => answer("done"));
  $("instruction-cannot").addEventListener("click", () => askWhyNot());
  $("btn-told-otherwise").addEventListener("click", () => toldOtherwise());
  $("btn-complaint").addEventListener("click", () => recordComplaint());
  bindDialog();

  // --- instructions ---------------------------------------------------------------------------

  function first() {
    return [...open.values()].sort((a, b) => String(a.issued_at).localeCompare(String(b.issued_at)) || a.id - b.id)[0] || null;
  }

  /** The counter's unanswered instructions as a snapshot or GET /instructions gave them. */
  function setInstructions(list, { mine }) {
    const before = new Set(open.keys());
    open.clear();
    for (const instruction of list || []) {
      if (instruction.counter === mine && !instruction.answered_at) open.set(instruction.id, instruction);
    }
    if ([...open.keys()].some((id) => !before.has(id))) chime();
    render();
  }

  /** Socket.IO ``instruction`` (a new one) and ``instruction_answered``. */
  function onInstruction(instruction, { mine }) {
    if (instruction.counter !== mine) return;
    const known = open.has(instruction.id);
    if (instruction.answered_at) open.delete(instruction.id);
    else open.set(instruction.id, instruction);
    if (!known && !instruction.answered_at) chime();
    render();
  }

  function clear() {
    open.clear();
    render();
  }

  /** A "serve this customer" the console can carry out itself: the counter is free to call them. */
  function callable(instruction) {
    return Boolean(instruction && instruction.kind === "serve_ticket" && instruction.ticket
      && ctx.counter()?.state === "idle");
  }

  async function answer(reply, text) {
    const instruction = first();
    if (!instruction || answering) return;
    answering = true;
    render();
    try {
      if (reply === "done" && callable(instruction)) {
        // "Done" calls the customer the manager named, then answers: one tap, as the card asked.
        await api(`/counters/${ctx.counter().number}/call`, { body: { ticket: instruction.ticket.id }, token: ctx.token() });
      }
      const body = text ? { answer: reply, text } : { answer: reply };
      const answered = await api(`/instructions/${instruction.id}/ack`, { body, token: ctx.token() });
      open.delete(instruction.id);
      ctx.clearError();
      notice(t("instruction_answered", { answer: ctx.words.label("instruction_answers", answered.answer) }));
    } catch (error) {
      // Already answered (another window of the same teller) or no longer ours: it is off this screen.
      if (error.code === "already_answered" || error.status === 403 || error.status === 404) open.delete(instruction.id);
      ctx.showError(error, reply === "done" ? "instruction_done" : "instruction_cannot");
    } finally {
      answering = false;
    }
    render();
  }

  async function askWhyNot() {
    if (!first() || answering) return;
    const options = CANNOT_REASONS.map((key) => ({ value: key, label: t(key) }));
    options.push({ value: "other", label: t("cannot_other"), needsText: true });
    const choice = await choose({
      title: t("choose_cannot"), hint: t("choose_cannot_hint"), textLabel: t("cannot_text_label"), options,
    });
    if (!choice) return;
    const said = choice.value === "other" ? choice.text : [t(choice.value), choice.text].filter(Boolean).join("：");
    await answer("cannot", said);
  }

  // --- help -----------------------------------------------------------------------------------

  /** The reason (and a word) for a help request, or null if the teller cancelled. */
  async function askHelp() {
    const options = ctx.words.terms("help_reasons").map((term) => ({ value: term.code, label: pick(term.label) }));
    const choice = await choose({
      title: t("choose_help"), hint: t("choose_help_hint"), textLabel: t("help_text_label"), options,
    });
    if (!choice) return null;
    return choice.text ? { reason: choice.value, text: choice.text } : { reason: choice.value };
  }

  // --- the customer was told something different -------------------------------------------------

  async function toldOtherwise() {
    const counter = ctx.counter();
    const ticket = counter?.current_ticket;
    if (!ticket || answering) return;
    const service = ctx.services().get(ticket.service);
    const options = (service?.documents || []).map((document) => ({ value: pick(document), label: pick(document) }));
    options.push({ value: "", label: t("told_other_rule"), needsText: true });
    const choice = await choose({
      title: t("choose_told"), hint: t("choose_told_hint"), textLabel: t("told_text_label"), options,
    });
    if (!choice) return;
    const subject = choice.value || choice.text;
    const body = {
      kind: "inconsistent_instructions", ticket: ticket.id, counter: counter.number, subject,
      text: choice.value && choice.text ? choice.text : t("told_default_text", { subject }),
    };
    try {
      ctx.recorded(await api("/complaints", { body, token: ctx.token() }));
      ctx.clearError();
      notice(t("told_recorded", { subject }));
    } catch (error) {
      ctx.showError(error, "act_told_otherwise");
    }
  }

  // --- a complaint of any kind -------------------------------------------------------------------

  /** The kind picked with a digit, about this counter and its customer (either may be unticked). */
  async function recordComplaint() {
    const counter = ctx.counter();
    if (!counter || answering) return;
    const ticket = counter.current_ticket;
    const about = [{ name: "counter", label: t("complaint_about_counter", { n: counter.number }) }];
    if (ticket) about.push({ name: "ticket", label: t("complaint_about_ticket", { number: ticket.number }) });
    const options = ctx.words.terms("complaint_kinds").map((term) => ({ value: term.code, label: pick(term.label) }));
    const choice = await choose({
      title: t("choose_complaint"), hint: t("choose_complaint_hint"), textLabel: t("complaint_text_label"), options, about,
    });
    if (!choice) return;
    const body = { kind: choice.value };
    if (choice.about.includes("counter")) body.counter = counter.number;
    if (ticket && choice.about.includes("ticket")) body.ticket = ticket.id;
    if (choice.text) body.text = choice.text;
    try {
      const recorded = await api("/complaints", { body, token: ctx.token() });
      ctx.recorded(recorded);
      ctx.clearError();
      notice(t("complaint_recorded", { kind: ctx.words.label("complaint_kinds", recorded.kind) }));
    } catch (error) {
      ctx.showError(error, "act_complaint");
    }
  }

  // --- a choice with an optional word ----------------------------------------------------------------

  /**
   * Show the lobby dialog; resolves {value, text, about} or null (cancelled). An option with
   * needsText is refused until something is written. ``about``: [{name, label}] shown ticked, to
   * be unticked if the choice is not about it; ``about`` in the answer: the names still ticked.
   */
  function choose({ title, hint, textLabel, options, about = [] }) {
    const dialog = $("lobby-dialog");
    if (dialog.open) return Promise.resolve(null);
    $("lobby-dialog-title").textContent = title;
    $("lobby-dialog-hint").textContent = hint;
    $("lobby-text-label").textContent = textLabel;
    $("lobby-text").value = "";
    $("lobby-dialog-error").hidden = true;
    $("lobby-about").hidden = about.length === 0;
    $("lobby-about-items").replaceChildren(...about.map(({ name, label }) => {
      const chip = document.createElement("label");
      chip.className = "lobby-about-item";
      const box = document.createElement("input");
      box.type = "checkbox";
      box.checked = true;
      box.value = name;
      const text = document.createElement("span");
      text.textContent = label;
      chip.append(box, text);
      return chip;
    }));
    const box = $("lobby-options");
    box.classList.toggle("two-columns", options.length > 4);
    box.replaceChildren();
    options.slice(0, 9).forEach((option, index) => {
      const button = keyedOption(option.label, String(index + 1));
      button.dataset.value = option.value;
      if (option.needsText) button.dataset.needsText = "1";
      button.addEventListener("click", () => pickOption(button));
      box.append(button);
    });
    dialog.showModal();
    box.firstElementChild?.focus();
    return new Promise((resolve) => { dialogDone = resolve; });
  }

  function pickOption(button) {
    const text = $("lobby-text").value.trim();
    if (button.dataset.needsText && !text) {
      $("lobby-dialog-error").textContent = t("needs_text");
      $("lobby-dialog-error").hidden = false;
      $("lobby-text").focus();
      return;
    }
    const about = [...$("lobby-about-items").querySelectorAll("input:checked")].map((input) => input.value);
    finish({ value: button.dataset.value, text, about });
  }

  function finish(result) {
    const resolve = dialogDone;
    dialogDone = null;
    const dialog = $("lobby-dialog");
    if (dialog.open) dialog.close();
    if (resolve) resolve(result);
  }

  function bindDialog() {
    const dialog = $("lobby-dialog");
    $("lobby-cancel").addEventListener("click", () => finish(null));
    dialog.addEventListener("close", () => finish(null)); // Esc, or closed any other way
    $("lobby-form").addEventListener("submit", (event) => event.preventDefault());
    dialog.addEventListener("keydown", (event) => {
      if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
      if (isTyping(event.target) && event.target.type !== "checkbox") {
        if (event.key === "Enter") {
          event.preventDefault(); // the word is written: on to the choices
          $("lobby-options").firstElementChild?.focus();
        }
        return;
      }
      const option = $("lobby-options").querySelector(`[data-key="${CSS.escape(keyOf(event))}"]`);
      if (option) {
        event.preventDefault();
        event.stopPropagation();
        if (!event.repeat) option.click();
      }
    });
  }

  // --- keys and rendering ------------------------------------------------------------------------

  /** A key press on the console: true if it was this module's (the console then ignores it). */
  function onKey(event) {
    if ($("lobby-dialog").open) return true;
    if (isTyping(event.target)) return false;
    const key = keyOf(event);
    const mine = {
      [LOBBY_KEYS.done]: "done", [LOBBY_KEYS.cannot]: "cannot", [LOBBY_KEYS.toldOtherwise]: "told",
      [LOBBY_KEYS.complaint]: "complaint", [LOBBY_KEYS.complaint.toLowerCase()]: "complaint",
    }[key];
    if (!mine) return false;
    if ((mine === "done" || mine === "cannot") && !first()) return false;
    event.preventDefault();
    if (event.repeat) return true;
    if (mine === "done") answer("done");
    else if (mine === "cannot") askWhyNot();
    else if (mine === "complaint") recordComplaint();
    else if (ctx.counter()?.current_ticket) toldOtherwise();
    else nudge($("btn-told-otherwise"));
    return true;
  }

  function isOpen() {
    return $("lobby-dialog").open;
  }

  function render() {
    const instruction = first();
    const banner = $("instruction-banner");
    banner.hidden = !instruction;
    const counter = ctx.counter();
    $("btn-told-otherwise").disabled = !counter?.current_ticket;
    if (!instruction) return;
    banner.dataset.id = String(instruction.id);
    banner.dataset.kind = instruction.kind;
    let what = ctx.words.label("instruction_kinds", instruction.kind);
    if (instruction.ticket) what += ` · ${t("instruction_ticket", { number: instruction.ticket.number })}`;
    $("instruction-what").textContent = what;
    $("instruction-note").hidden = !instruction.text;
    $("instruction-note").textContent = instruction.text || "";
    $("instruction-queue").textContent = open.size > 1 ? t("instruction_more", { n: open.size }) : "";
    $("instruction-done").disabled = answering;
    $("instruction-done").querySelector("span").textContent = callable(instruction)
      ? t("instruction_call_now", { number: instruction.ticket.number }) : t("instruction_done");
    $("instruction-cannot").disabled = answering;
    tick();
  }

  /** The age of the instruction on screen (the console's timer calls this). */
  function tick() {
    const instruction = first();
    if (!instruction) return;
    const seconds = Math.max(0, ctx.clock() ? ctx.clock().secondsSince(instruction.issued_at) : 0);
    $("instruction-meta").textContent = t("instruction_meta", { who: instruction.issued_by || "", ago: ago(seconds, ctx.i18n.lang) });
    $("instruction-banner").classList.toggle("late", Boolean(instruction.answer_due_at && ctx.clock()
      && ctx.clock().now() >= Date.parse(instruction.answer_due_at)));
  }

  /** The chime, counted on the banner (data-chimes) for whoever checks that it sounded. */
  function chime() {
    const banner = $("instruction-banner");
    if (playChime()) banner.dataset.chimes = String(Number(banner.dataset.chimes || 0) + 1);
  }

  function notice(text) {
    const box = $("lobby-notice");
    box.textContent = text;
    box.hidden = false;
    clearTimeout(notice.timer);
    notice.timer = setTimeout(() => { box.hidden = true; }, 6000);
  }

  function nudge(button) {
    button.classList.remove("nudge");
    void button.offsetWidth; // restart the animation
    button.classList.add("nudge");
  }

  return { setInstructions, onInstruction, clear, askHelp, onKey, isOpen, render, tick };
}
