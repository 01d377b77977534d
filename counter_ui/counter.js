// The teller's console: log in, pick (or resume) a counter, then call, serve and finish customers.
//
// The server decides everything: buttons are enabled from the counter's state as the server last
// told it (state_snapshot, counter_changed, or the answer to an action), and any refusal is shown
// in the console's own words for its code (the server's message only for a code it does not know),
// after which the console reloads the counter's real state.
//
// Beside the one-key actions: the waiting list of the counter's services (GET /queue, any of them
// can be called), customers set aside and called back, no-shows who came back, transfer to a
// service or a counter with a note, undo of the last complete or no-show, and the customer's
// context (GET /tickets/<id>/context).

import { api } from "/static/js/api.js";
import { keyedOption } from "/static/js/dom.js";
import { createI18n } from "/static/js/i18n.js";
import { connectLive } from "/static/js/live.js";
import { duration, timeOfDay, wholeMinutes } from "/static/js/format.js";
import { createWords } from "/static/js/vocabulary.js";
import { MESSAGES } from "./messages.js";
import {
  ACTIONS, TO_A_COUNTER_KEY, actionForKey, bodyFor, counterTargets, isEnabled, isTyping, keyOf, noShowWaitSeconds,
  overrunLine, timerLevel, timerPhase, transferTargets, undoSecondsLeft,
} from "./model.js";
import { createLobby } from "./lobby.js";

const TOKEN_KEY = "callwise.counter.token"; // sessionStorage: a reload resumes, a closed tab forgets
const NO_SHOWS_KEY = "callwise.counter.no_shows"; // sessionStorage: this console's recent no-shows
const NO_SHOWS_KEPT = 5;
const CONFIRM_MS = 6000; // how long an outcome that needs confirming waits for its second press
const MODIFIER_KEYS = ["Shift", "Control", "Alt", "Meta", "NumLock", "CapsLock", "AltGraph"];
const DIALOGS = ["chooser", "transfer-dialog", "hold-dialog"];
// How often to ask the server for its time. A system clock only drifts, but a manual one (tests,
// simulations, demos) jumps whenever someone advances it, and no event says so.
const CLOCK_RESYNC_MS = { manual: 5_000, system: 300_000 };

const $ = (id) => document.getElementById(id);
const i18n = createI18n(MESSAGES, ["zh", "en"], "callwise.counter.lang");
const { t, pick } = i18n;
// States, pause reasons, outcomes and severities: the branch's vocabulary (GET /api/v1/branch).
const words = createWords(() => state.branch?.vocabulary, pick);

const state = {
  view: "loading",
  token: sessionStorage.getItem(TOKEN_KEY),
  staff: null, // {id, name, role, ...} from /auth/me
  branch: null, // GET /api/v1/branch
  services: new Map(), // code -> service (documents, expected_minutes, name)
  waiting: new Map(), // code -> {waiting, estimated_wait_s}
  counters: [], // every counter, for the picker
  mine: null, // the number of the counter this person holds
  counter: null, // its view
  alerts: new Map(), // id -> alert, this counter's open ones
  error: null, // {action, code, message}
  busy: false, // an action's request is in flight: only its answer clears this
  typedAhead: [], // [name, choice] of actions asked for while busy, run in order once it is answered
  live: null,
  liveStatus: "connecting",
  queue: null, // GET /queue's services: [{code, waiting, tickets: [...]}], or null before it loads
  queueSeq: 0, // the latest GET /queue asked: older answers are dropped
  queueTimer: null,
  noShows: loadNoShows(), // [{id, number, service, counter, at}], newest first: may come back
  backAgain: new Set(), // ids of no-shows known to be no-shows no longer (returned, undone)
  armed: null, // {name, timer}: an outcome pressed once, waiting for its confirming second press
  context: null, // {id, data} of the current ticket (GET /tickets/<id>/context)
  reading: new Set(), // the waiting list's and the context's reads on their way
  clockSynced: false, // the live clock has taken the branch's time at least once
  contextSeq: 0,
};

// The lobby manager's instructions, help reasons, and "told something different in the lobby".
const lobby = createLobby({
  i18n, words,
  token: () => state.token,
  counter: () => state.counter,
  services: () => state.services,
  clock: () => state.live?.clock,
  showError: (error, label) => (error.status === 401 ? sessionEnded() : showError(error, label)),
  clearError: () => clearError(),
  // A complaint recorded about the current customer: their context's lobby records show it.
  recorded: (complaint) => {
    const ticket = state.counter?.current_ticket;
    if (ticket && complaint.ticket?.id === ticket.id) loadContext(ticket.id);
  },
});

// --- start ------------------------------------------------------------------------------------

async function main() {
  i18n.apply();
  renderLangToggle();
  bindStaticControls();
  try {
    state.branch = await api("/branch");
    state.branchOffset = Date.parse(state.branch.now) - Date.now() || 0;
    if (Array.isArray(state.branch.languages) && state.branch.languages.length) {
      // Only switch away from the stored choice if the branch does not offer it.
      if (!state.branch.languages.includes(i18n.lang)) i18n.setLang(state.branch.languages[0]);
    }
  } catch (error) {
    showError(error);
  }
  renderOutcomeLabels();
  setInterval(resyncClock, CLOCK_RESYNC_MS[state.branch?.clock] || CLOCK_RESYNC_MS.system);
  if (state.token) {
    try {
      const me = await api("/auth/me", { token: state.token });
      await afterLogin(me);
      return;
    } catch (error) {
      if (error.status !== 401) showError(error);
      forgetToken();
    }
  }
  showView("login");
}

function bindStaticControls() {
  $("lang-toggle").addEventListener("click", () => {
    const languages = state.branch?.languages?.length ? state.branch.languages : ["zh", "en"];
    const next = languages[(languages.indexOf(i18n.lang) + 1) % languages.length];
    i18n.setLang(next);
  });
  i18n.onChange(() => {
    renderLangToggle();
    renderOutcomeLabels();
    renderAll();
    renderArmed();
    if (state.view === "console") renderNoShows();
  });
  $("login-form").addEventListener("submit", onLogin);
  $("logout").addEventListener("click", onLogout);
  $("error-dismiss").addEventListener("click", clearError);
  for (const button of document.querySelectorAll("[data-action]")) {
    button.addEventListener("click", () => run(button.dataset.action));
  }
  document.addEventListener("keydown", onKey);
  setInterval(tick, 500);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") resyncClock();
  });
}

// --- log in / log out -------------------------------------------------------------------------

async function onLogin(event) {
  event.preventDefault();
  const username = $("username").value.trim();
  const password = $("password").value;
  if (!username || !password) {
    showError({ code: "login_missing", message: "" }, null);
    (username ? $("password") : $("username")).focus();
    return;
  }
  $("login-submit").disabled = true;
  try {
    const result = await api("/auth/login", { body: { username, password } });
    state.token = result.token;
    sessionStorage.setItem(TOKEN_KEY, result.token);
    $("password").value = "";
    clearError();
    const me = await api("/auth/me", { token: state.token });
    await afterLogin(me);
  } catch (error) {
    showError(error, null);
    $("password").select();
  } finally {
    $("login-submit").disabled = false;
  }
}

async function afterLogin(me) {
  if (me.kind !== "staff") {
    forgetToken();
    showError({ code: "wrong_role", message: "" });
    showView("login");
    return;
  }
  state.staff = me;
  connect();
  await loadServices();
  if (me.counter != null) await enterConsole(me.counter);
  else await showPicker();
}

async function onLogout() {
  // Leaving the desk signs out of the counter too, so no counter stays "open" with nobody at it.
  if (state.mine != null && state.counter) {
    if (state.counter.state === "calling" || state.counter.state === "serving") {
      showError({ code: "busy_ticket", message: "" }, "log_out");
      return;
    }
    const number = state.mine;
    state.mine = null; // the counter_changed of this close is no news to us
    try {
      await api(`/counters/${number}/close`, { method: "POST", token: state.token });
    } catch (error) {
      if (error.status !== 409 && error.status !== 403) {
        state.mine = number;
        showError(error, "log_out");
        return;
      }
    }
  }
  // Nothing more is asked with this token: the live connection stops (its events would ask for the
  // queue again), and what is already on its way is answered before the token is revoked.
  clearTimeout(state.queueTimer);
  if (state.live) {
    state.live.close();
    state.live = null;
  }
  await Promise.allSettled([...state.reading]);
  try {
    await api("/auth/logout", { method: "POST", token: state.token });
  } catch (error) {
    // The token may already be gone; logging out locally is what matters.
  }
  forgetToken();
  clearError();
  showView("login");
  $("username").focus();
}

function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = null;
  state.staff = null;
  state.mine = null;
  state.counter = null;
  state.queue = null;
  state.context = null;
  state.alerts.clear();
  lobby.clear();
  if (state.live) {
    state.live.close();
    state.live = null;
  }
  state.liveStatus = "connecting";
}

function sessionEnded() {
  forgetToken();
  showView("login");
  showError({ code: "session", message: "" }, null);
}

// --- the live connection ----------------------------------------------------------------------

function connect() {
  if (state.live) state.live.close();
  state.liveStatus = "connecting";
  state.live = connectLive({
    auth: { token: state.token },
    onStatus(status) {
      if (status === "refused") {
        sessionEnded();
        return;
      }
      state.liveStatus = status;
      renderLive();
    },
    onSnapshot,
    on: {
      counter_changed: onCounterChanged,
      queue_changed: onQueueChanged,
      ticket_changed: onTicketChanged,
      alert_raised: onAlert,
      alert_changed: onAlert,
      alert_resolved: onAlertResolved,
      instruction: (instruction) => lobby.onInstruction(instruction, { mine: state.mine }),
      instruction_answered: (instruction) => lobby.onInstruction(instruction, { mine: state.mine }),
    },
  });
  renderLive();
}

function onSnapshot(snapshot) {
  state.clockSynced = Boolean(snapshot.now) || state.clockSynced; // live.js has followed the branch's clock
  if (Array.isArray(snapshot.services)) setServices(snapshot.services);
  if (Array.isArray(snapshot.counters)) {
    state.counters = snapshot.counters;
    if (state.mine != null) {
      const mine = snapshot.counters.find((c) => c.number === state.mine);
      if (mine) applyMine(mine);
    }
  }
  if (Array.isArray(snapshot.alerts)) {
    state.alerts.clear();
    for (const alert of snapshot.alerts) if (isMyAlert(alert)) state.alerts.set(alert.id, alert);
  }
  if (Array.isArray(snapshot.instructions) && state.mine != null) {
    lobby.setInstructions(snapshot.instructions, { mine: state.mine });
  }
  renderAll();
  if (state.view === "console") queueSoon();
}

function onCounterChanged(view) {
  const index = state.counters.findIndex((c) => c.number === view.number);
  if (index >= 0) state.counters[index] = view;
  else state.counters.push(view);
  if (view.number === state.mine) applyMine(view);
  else if (state.view === "pick") renderPicker();
}

function onQueueChanged(payload) {
  for (const row of payload.services || []) {
    state.waiting.set(row.code, { waiting: row.waiting, estimated_wait_s: row.estimated_wait_s });
  }
  if (state.view === "console") {
    renderWaiting();
    queueSoon();
  }
}

function onTicketChanged(ticket) {
  if (state.view === "console") queueSoon(); // held, returned, priority, a note: the list shows them
  // A no-show that is one no longer (returned from another console, undone) cannot come back again.
  if (ticket.status !== "no_show" && (state.noShows.some((n) => n.id === ticket.id) || state.counter?.undo?.ticket?.id === ticket.id)) {
    forgetNoShow(ticket.id);
    renderNoShows();
    renderTimed();
  }
  const current = state.counter?.current_ticket;
  if (!current || current.id !== ticket.id) return;
  // A recall changes the ticket, not the counter: keep the count on screen right.
  if (ticket.status === "called" || ticket.status === "serving") {
    state.counter = { ...state.counter, current_ticket: { ...current, recall_count: ticket.recall_count } };
    renderTicket();
  }
}

function onAlert(alert) {
  noteServerTime(alert.resolved_at || alert.escalated_at || alert.raised_at);
  resyncClock();
  if (!isMyAlert(alert)) return;
  if (alert.resolved_at) state.alerts.delete(alert.id);
  else state.alerts.set(alert.id, alert);
  renderAlerts();
}

function onAlertResolved(alert) {
  noteServerTime(alert.resolved_at);
  resyncClock();
  state.alerts.delete(alert.id);
  renderAlerts();
}

function isMyAlert(alert) {
  return state.mine != null && alert.counter === state.mine;
}

/** A time the server has reached: never let our idea of its clock stay behind it. */
function noteServerTime(iso) {
  if (!iso || !state.live) return;
  const at = Date.parse(iso);
  if (Number.isFinite(at) && at > state.live.clock.now()) state.live.clock.sync(iso);
}

/** The branch clock may be manual (tests, simulations): follow it whenever it may have moved. */
async function resyncClock() {
  if (!state.live || state.view !== "console") return;
  try {
    const branch = await api("/branch");
    if (branch.now && state.live) state.live.clock.sync(branch.now);
    tick();
  } catch (error) {
    // Offline: the status dot says so; the timer keeps the last offset.
  }
}

// --- loading ------------------------------------------------------------------------------------

async function loadServices() {
  try {
    setServices(await api("/services", { token: state.token }));
  } catch (error) {
    if (error.status === 401) return sessionEnded();
    showError(error);
  }
}

function setServices(list) {
  state.services = new Map(list.map((s) => [s.code, s]));
  for (const s of list) state.waiting.set(s.code, { waiting: s.waiting, estimated_wait_s: s.estimated_wait_s });
}

async function loadCounters() {
  const token = state.token;
  try {
    const counters = await api("/counters", { token });
    if (token !== state.token) return false; // logged out meanwhile
    state.counters = counters;
    return true;
  } catch (error) {
    if (token !== state.token) return false;
    if (error.status === 401) sessionEnded();
    else showError(error);
    return false;
  }
}

async function showPicker() {
  state.mine = null;
  state.counter = null;
  state.alerts.clear();
  lobby.clear();
  showView("pick");
  await loadCounters();
  renderPicker();
}

async function enterConsole(number) {
  state.mine = number;
  state.counter = null;
  await loadCounters();
  const mine = state.counters.find((c) => c.number === number);
  if (!mine || !applyMine(mine)) {
    await showPicker();
    return;
  }
  // The snapshot taken when this connection opened knew no counter of ours: ask for its alerts.
  if (state.live) state.live.refresh();
  loadQueue();
}

/** Take a view of our counter; leave the console if it is no longer ours. True if it is ours. */
function applyMine(view) {
  const ours = view.state !== "closed" && view.staff && state.staff && view.staff.id === state.staff.id;
  if (!ours) {
    if (state.view === "console") showPicker();
    return false;
  }
  state.counter = view;
  noteServerTime(view.state_since);
  if (state.view !== "console") showView("console");
  else renderConsole();
  return true;
}

async function reloadCounter() {
  if (state.mine == null) return;
  if (!(await loadCounters())) return;
  const mine = state.counters.find((c) => c.number === state.mine);
  if (mine) applyMine(mine);
  else await showPicker();
}

// --- actions ------------------------------------------------------------------------------------

async function run(name, choice) {
  const action = ACTIONS[name];
  if (!action || state.view !== "console") return;
  if (state.busy) {
    // A fast teller's next key, pressed before the answer to the last action is in: it runs once
    // that answer has been applied, against the state it brought (see below).
    state.typedAhead.push([name, choice]);
    return;
  }
  if (name === "returnTicket" && choice === undefined) {
    choice = state.noShows[0]?.id; // its key brings back the latest no-show
    if (choice === undefined) {
      nudge(name);
      return;
    }
  }
  if (!isEnabled(name, state.counter, now()) || (name === "undo" && $("undo-bar").hidden)) {
    disarm();
    nudge(name);
    return;
  }
  if (action.confirm && choice === undefined) {
    // An outcome that is not simply "done": the first press asks, the second one sends.
    if (state.armed?.name !== name) {
      arm(name);
      return;
    }
  }
  disarm();
  if (action.choose && choice === undefined) {
    openChooser(name);
    return;
  }
  setBusy(true);
  let accepted = false;
  try {
    accepted = await send(name, choice);
  } finally {
    setBusy(false);
  }
  // Keys typed ahead were meant for the state this action leads to: after a refusal they no longer
  // apply. Otherwise the next one runs now (and is nudged away if the new state does not allow it).
  const next = accepted && state.view === "console" ? state.typedAhead.shift() : undefined;
  if (next) run(...next);
  else state.typedAhead = [];
}

/** The branch's time now, in milliseconds (the manual clock of tests and demos included): the live
 * connection's clock once it has heard the branch's time, else the time GET /branch gave. */
function now() {
  return state.live && state.clockSynced ? state.live.clock.now() : Date.now() + (state.branchOffset || 0);
}

/** One action's request, and the counter's state after it; false if it was refused. */
async function send(name, choice) {
  const action = ACTIONS[name];
  const number = state.mine;
  const before = {
    ticket: state.counter?.current_ticket || null,
    undo: state.counter?.undo || null,
    noShow: name === "returnTicket" ? myNoShows().find((n) => n.id === choice) : null,
  };
  const url = action.url ? action.url(choice) : `/counters/${number}/${action.path}`;
  try {
    const result = await api(url, {
      method: "POST", body: bodyFor(name, choice), token: state.token,
    });
    clearError();
    clearNotice();
    if (name === "close") {
      await showPicker();
      return true;
    }
    if (result && result.number === number && "state" in result) applyMine(result);
    afterAction(name, choice, before);
  } catch (error) {
    if (error.status === 401) {
      sessionEnded();
      return false;
    }
    if (error.code === "queue_empty") {
      // Nobody waiting is no fault of anyone's: a calm word, not an error.
      clearError();
      notice(t("queue_none"), "calm");
      loadQueue();
      return false;
    }
    showError(error, action.label);
    if (state.live) state.live.refresh();
    await reloadCounter();
    loadQueue();
    return false;
  }
  // Whatever the answer, show what the server now holds (events may lag or be lost).
  await reloadCounter();
  loadQueue();
  return true;
}

/** What an accepted action leaves for the teller to see or use next. */
function afterAction(name, choice, before) {
  const ticket = before.ticket;
  if (name === "noShow" && ticket) {
    rememberNoShow({ id: ticket.id, number: ticket.number, service: ticket.service, counter: state.mine,
      at: new Date(now()).toISOString() });
  } else if (name === "returnTicket") {
    const returned = before.noShow;
    forgetNoShow(choice);
    if (returned) {
      notice(t("returned_notice", { number: returned.number, service: serviceName(returned.service) }));
    }
  } else if (name === "hold" && ticket) {
    notice(t("held_notice", { number: ticket.number }));
  } else if (name === "transfer" && ticket) {
    const where = [choice.service ? serviceName(choice.service) : "", choice.counter != null ? t("counter_n", { n: choice.counter }) : ""]
      .filter(Boolean).join(" · ");
    notice(t("transferred_notice", { number: ticket.number, where }));
  } else if (name === "undo" && before.undo) {
    if (before.undo.action === "no_show") forgetNoShow(before.undo.ticket?.id);
    notice(t("undone_notice", { number: before.undo.ticket?.number || "" }));
  }
  renderNoShows();
}

function serviceName(code) {
  const service = state.services.get(code);
  return service ? `${code} · ${pick(service.name)}` : String(code ?? "");
}

// --- the outcome that needs confirming ------------------------------------------------------------

function arm(name) {
  disarm();
  state.armed = { name, timer: setTimeout(() => { disarm(); }, CONFIRM_MS) };
  renderArmed();
}

function disarm() {
  if (!state.armed) return;
  clearTimeout(state.armed.timer);
  state.armed = null;
  renderArmed();
}

function renderArmed() {
  const armed = state.armed?.name;
  renderOutcomeLabels();
  for (const name of ["redo", "error"]) {
    const button = document.querySelector(`[data-action="${name}"]`);
    button.classList.toggle("armed", armed === name);
    button.setAttribute("aria-pressed", String(armed === name));
    if (armed === name) button.querySelector(".action-label").textContent = t("confirm_again", { key: ACTIONS[name].keys[0] });
  }
  const hint = $("confirm-hint");
  hint.hidden = !armed;
  if (armed) {
    const key = ACTIONS[armed].keys[0];
    hint.textContent = t("confirm_outcome_hint", { outcome: words.label("outcomes", ACTIONS[armed].outcome), key });
  }
}

// --- the waiting list ---------------------------------------------------------------------------------

/** GET /queue now; an answer that comes after a newer question is dropped. */
async function loadQueue() {
  if (state.view !== "console" || !state.token) return;
  clearTimeout(state.queueTimer);
  const seq = ++state.queueSeq;
  const token = state.token;
  try {
    const answer = await reading(api("/queue", { token }));
    if (seq !== state.queueSeq || token !== state.token) return;
    state.queue = Array.isArray(answer) ? answer : answer.services || [];
    if (state.view === "console") renderWaiting();
  } catch (error) {
    if (token !== state.token) return;
    if (error.status === 401) sessionEnded();
    // Otherwise offline: the status dot says so, and the next event asks again.
  }
}

/** GET /queue shortly: a burst of events (a call changes the queue, the ticket and the counter) asks once. */
function queueSoon() {
  clearTimeout(state.queueTimer);
  state.queueTimer = setTimeout(loadQueue, 150);
}

// --- recent no-shows (this console's own record: they may come back) ---------------------------------

function loadNoShows() {
  try {
    const list = JSON.parse(sessionStorage.getItem(NO_SHOWS_KEY) || "[]");
    return Array.isArray(list) ? list : [];
  } catch (error) {
    return [];
  }
}

function saveNoShows() {
  sessionStorage.setItem(NO_SHOWS_KEY, JSON.stringify(state.noShows));
}

function rememberNoShow(entry) {
  state.backAgain.delete(entry.id); // back once, gone again
  state.noShows = [entry, ...state.noShows.filter((n) => n.id !== entry.id)].slice(0, NO_SHOWS_KEPT);
  saveNoShows();
}

function forgetNoShow(id) {
  if (id === undefined) return;
  state.backAgain.add(id); // the counter's undo may still name it: it is no no-show to show again
  state.noShows = state.noShows.filter((n) => n.id !== id);
  saveNoShows();
}

/** The counter's no-shows that may come back: this console's record, and the one the server would
 * undo (recorded by another window of the same counter, or before a reload). */
function myNoShows() {
  const list = state.noShows.filter((n) => n.counter === state.mine);
  const undo = state.counter?.undo;
  if (undo && undo.action === "no_show" && undo.ticket && !state.backAgain.has(undo.ticket.id)
    && !list.some((n) => n.id === undo.ticket.id)) {
    list.unshift({ id: undo.ticket.id, number: undo.ticket.number, service: undo.ticket.service, counter: state.mine,
      at: state.counter.state_since });
  }
  return list;
}

/**
 * While an action is in flight the console's buttons stay disabled, whatever a live event says
 * meanwhile: the event about our own action often arrives before the HTTP answer, and a button it
 * enabled would take a click that the console is not ready for.
 */
function setBusy(busy) {
  state.busy = busy;
  $("app").setAttribute("aria-busy", String(busy));
  if (state.view === "console" && state.counter) renderButtons();
}

/** A word for the teller that is no error: nobody waiting, a customer set aside or back. */
function notice(text, kind = "done") {
  const box = $("console-notice");
  box.textContent = text;
  box.dataset.kind = kind;
  box.hidden = false;
  clearTimeout(notice.timer);
  notice.timer = setTimeout(() => { box.hidden = true; }, 8000);
}

function clearNotice() {
  clearTimeout(notice.timer);
  $("console-notice").hidden = true;
}

/** A shortcut for something that does not apply now: a brief shake of its button, nothing sent. */
function nudge(name) {
  const button = name === "returnTicket"
    ? document.querySelector(".came-back")
    : document.querySelector(`[data-action="${name}"]`);
  if (!button) return;
  button.classList.remove("nudge");
  void button.offsetWidth; // restart the animation
  button.classList.add("nudge");
}

function onKey(event) {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
  if (state.view !== "console" || anyDialogOpen()) return;
  if (lobby.onKey(event)) return; // answering an instruction, "told something different", its dialog
  if (isTyping(event.target)) return;
  const key = keyOf(event);
  const name = actionForKey(key);
  // Any other key than the confirming one takes back an outcome's first press (Esc just that).
  if (state.armed && name !== state.armed.name && !MODIFIER_KEYS.includes(key)) {
    disarm();
    if (key === "Escape") return;
  }
  if (!name) return;
  if (key === "Enter") {
    // Enter keeps its ordinary meaning on a focused control; elsewhere it calls next.
    const target = event.target;
    if (target && target !== document.body && target.matches("button, a[href], summary, [role=button]")) return;
  }
  event.preventDefault();
  if (event.repeat) return; // a held key is one press
  run(name);
}

// --- choosers -------------------------------------------------------------------------------------

function openChooser(name) {
  if (name === "help") {
    // A reason and perhaps a word: the lobby's own dialog asks for both.
    lobby.askHelp().then((choice) => (choice ? run("help", choice) : settleFocus()));
    return;
  }
  if (name === "transfer") {
    openTransfer();
    return;
  }
  if (name === "hold") {
    openHold();
    return;
  }
  const dialog = $("chooser");
  const options = [];
  if (name === "pause") {
    $("chooser-title").textContent = t("choose_pause");
    $("chooser-hint").textContent = t("choose_pause_hint");
    for (const reason of words.terms("pause_reasons")) {
      options.push({ value: reason.code, label: pick(reason.label) });
    }
  } else if (name === "close") {
    $("chooser-title").textContent = t("confirm_close", { n: state.mine });
    $("chooser-hint").textContent = t("confirm_close_hint");
    options.push({ value: "yes", label: t("confirm_close_yes"), key: "9", danger: true });
  }
  const box = $("chooser-options");
  box.replaceChildren();
  options.slice(0, 9).forEach((option, index) => {
    const button = keyedOption(option.label, option.key || String(index + 1), {
      type: "submit", className: option.danger ? "chooser-option danger" : "chooser-option",
    });
    button.value = option.value;
    box.append(button);
  });
  dialog.dataset.action = name;
  dialog.returnValue = "";
  dialog.showModal();
}

function bindChooser() {
  const dialog = $("chooser");
  dialog.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const option = $("chooser-options").querySelector(`[data-key="${CSS.escape(keyOf(event))}"]`);
    if (option) {
      event.preventDefault(); // the page's own shortcuts must not see this key as well
      event.stopPropagation();
      if (!event.repeat) option.click();
    }
  });
  dialog.addEventListener("close", () => {
    const name = dialog.dataset.action;
    const value = dialog.returnValue;
    delete dialog.dataset.action;
    if (name && value) run(name, value);
    else settleFocus();
  });
}

function anyDialogOpen() {
  return DIALOGS.some((id) => $(id).open);
}

/** A keyed option whose key may be missing (a tenth service, a counter numbered 10 or more). */
function option(label, key) {
  const button = keyedOption(label, key || "");
  if (!key) {
    button.querySelector("kbd").remove();
    button.removeAttribute("aria-keyshortcuts");
    delete button.dataset.key;
  }
  return button;
}

// --- transfer: fixed keys for the services, 0 for a counter, a note -----------------------------------

function openTransfer() {
  const ticket = state.counter?.current_ticket;
  if (!ticket) return;
  const dialog = $("transfer-dialog");
  $("transfer-title").textContent = t("choose_transfer", { ticket: ticket.number });
  $("transfer-hint").textContent = t("choose_transfer_hint_keys");
  $("transfer-counters-title").textContent = t("choose_transfer_counter_title", { ticket: ticket.number });
  $("transfer-note").value = "";
  const services = $("transfer-services");
  services.replaceChildren();
  for (const target of transferTargets([...state.services.values()], ticket.service)) {
    const label = `${target.code} · ${pick(target.service.name)}${target.current ? ` ${t("transfer_current")}` : ""}`;
    const button = option(label, target.key);
    button.dataset.service = target.code;
    button.disabled = target.current;
    if (target.current) button.classList.add("is-current");
    button.addEventListener("click", () => finishTransfer({ service: target.code }));
    services.append(button);
  }
  const toCounter = option(t("choose_transfer_to_counter"), TO_A_COUNTER_KEY);
  toCounter.id = "transfer-to-counter";
  toCounter.classList.add("secondary", "to-counter");
  toCounter.addEventListener("click", () => showTransferPane("counters"));
  services.append(toCounter);
  showTransferPane("services");
  dialog.showModal();
  services.querySelector("button:not(:disabled)")?.focus();
}

function showTransferPane(pane) {
  const counters = pane === "counters";
  $("transfer-services-pane").hidden = counters;
  $("transfer-counters-pane").hidden = !counters;
  $("transfer-back").hidden = !counters;
  if (!counters) return;
  const box = $("transfer-counters");
  box.replaceChildren();
  const targets = counterTargets(state.counters, state.mine);
  if (!targets.length) {
    box.append(Object.assign(document.createElement("p"), { className: "muted", textContent: t("transfer_no_counters") }));
  }
  for (const target of targets) {
    const codes = target.counter.services.join(" ");
    const who = target.counter.staff?.name || target.counter.staff?.username || "";
    const label = [t("counter_n", { n: target.number }), codes, who].filter(Boolean).join(" · ");
    const button = option(label, target.key);
    button.dataset.counter = String(target.number);
    button.addEventListener("click", () => finishTransfer({ counter: target.number }));
    box.append(button);
  }
  box.querySelector("button")?.focus();
}

function finishTransfer(choice) {
  const note = $("transfer-note").value.trim();
  const dialog = $("transfer-dialog");
  dialog.dataset.done = "1";
  dialog.close();
  run("transfer", note ? { ...choice, note } : choice);
}

function bindTransfer() {
  const dialog = $("transfer-dialog");
  $("transfer-cancel").addEventListener("click", () => dialog.close());
  $("transfer-back").addEventListener("click", () => showTransferPane("services"));
  $("transfer-form").addEventListener("submit", (event) => event.preventDefault());
  dialog.addEventListener("cancel", (event) => {
    // Esc among the counters goes back to the services; among the services it closes.
    if (!$("transfer-counters-pane").hidden) {
      event.preventDefault();
      showTransferPane("services");
    }
  });
  dialog.addEventListener("close", () => {
    if (!dialog.dataset.done) settleFocus();
    delete dialog.dataset.done;
  });
  dialog.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    if (isTyping(event.target)) {
      if (event.key === "Enter") {
        event.preventDefault(); // the note is written: on to the choices
        dialog.querySelector(".transfer-pane:not([hidden]) button:not(:disabled)")?.focus();
      }
      return;
    }
    const pane = $("transfer-counters-pane").hidden ? $("transfer-services") : $("transfer-counters");
    const picked = pane.querySelector(`[data-key="${CSS.escape(keyOf(event))}"]`);
    if (picked) {
      event.preventDefault();
      event.stopPropagation();
      if (!event.repeat && !picked.disabled) picked.click();
      else if (picked.disabled) nudgeElement(picked);
    }
  });
}

// --- set aside: a note, then Enter -----------------------------------------------------------------------

function openHold() {
  const ticket = state.counter?.current_ticket;
  if (!ticket) return;
  $("hold-title").textContent = t("choose_hold", { ticket: ticket.number });
  $("hold-note").value = "";
  $("hold-dialog").showModal();
  $("hold-note").focus();
}

function bindHold() {
  const dialog = $("hold-dialog");
  $("hold-cancel").addEventListener("click", () => dialog.close());
  $("hold-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const note = $("hold-note").value.trim();
    dialog.dataset.done = "1";
    dialog.close();
    run("hold", { note });
  });
  dialog.addEventListener("close", () => {
    if (!dialog.dataset.done) settleFocus();
    delete dialog.dataset.done;
  });
}

function nudgeElement(element) {
  element.classList.remove("nudge");
  void element.offsetWidth; // restart the animation
  element.classList.add("nudge");
}

// --- rendering ------------------------------------------------------------------------------------

function showView(view) {
  state.view = view;
  for (const name of ["loading", "login", "pick", "console"]) $(`view-${name}`).hidden = name !== view;
  $("app").setAttribute("aria-busy", "false");
  renderAll();
  if (view === "login") $("username").focus();
  if (view === "console") $("ticket-card").focus({ preventScroll: true });
}

function renderAll() {
  renderHeader();
  renderLive();
  renderError();
  if (state.view === "pick") renderPicker();
  if (state.view === "console") renderConsole();
}

function renderLangToggle() {
  const button = $("lang-toggle");
  const other = i18n.lang === "zh" ? "en" : "zh";
  button.textContent = t("lang_other");
  button.lang = other === "zh" ? "zh-CN" : "en";
}

function renderOutcomeLabels() {
  // Without the vocabulary (the branch could not be loaded) the page's own text stays.
  for (const element of document.querySelectorAll("[data-outcome]")) {
    if (words.has("outcomes", element.dataset.outcome)) element.textContent = words.label("outcomes", element.dataset.outcome);
  }
}

function renderHeader() {
  const signedIn = Boolean(state.staff);
  $("who").hidden = !signedIn;
  $("who").textContent = signedIn ? state.staff.name || "" : "";
  $("logout").hidden = !signedIn;
  const counterTitle = state.view === "console" && state.mine != null ? t("counter_n", { n: state.mine }) : "";
  $("topbar-counter").hidden = !counterTitle;
  $("topbar-counter").textContent = counterTitle;
  $("console-title").textContent = counterTitle;
  document.title = `${counterTitle ? counterTitle + " · " : ""}${t("page_title")} · Callwise`;
}

function renderLive() {
  const shown = Boolean(state.live);
  $("live").hidden = !shown;
  $("live-dot").classList.toggle("online", state.liveStatus === "online");
  $("live-text").textContent = t(`live_${state.liveStatus === "online" ? "online" : state.liveStatus === "offline" ? "offline" : "connecting"}`);
}

function renderPicker() {
  const list = $("counter-list");
  list.replaceChildren();
  if (!state.counters.length) {
    const empty = document.createElement("li");
    empty.className = "muted";
    empty.textContent = t("no_counters");
    list.append(empty);
    return;
  }
  for (const counter of state.counters) {
    const mine = counter.staff && state.staff && counter.staff.id === state.staff.id && counter.state !== "closed";
    const free = counter.state === "closed";
    const item = document.createElement("li");
    item.className = `card counter-choice ${free ? "is-free" : mine ? "is-mine" : "is-taken"}`;
    item.dataset.number = counter.number;

    const title = document.createElement("h2");
    title.textContent = t("counter_n", { n: counter.number });
    const services = document.createElement("ul");
    services.className = "chips";
    for (const code of counter.services) {
      const chip = document.createElement("li");
      chip.className = "chip";
      const service = state.services.get(code);
      chip.textContent = service ? `${code} · ${pick(service.name)}` : code;
      services.append(chip);
    }
    const status = document.createElement("p");
    status.className = "choice-status";
    status.textContent = free
      ? t("counter_free")
      : mine
        ? t("counter_mine")
        : `${words.label("counter_states", counter.state)} · ${t("counter_taken_by", { name: counter.staff?.name || counter.staff?.username || "?" })}`;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "choice-button";
    button.textContent = free ? t("sign_in_here") : mine ? t("resume_here") : t("unavailable");
    button.disabled = !(free || mine);
    button.setAttribute("aria-label", `${title.textContent}: ${button.textContent}`);
    button.addEventListener("click", () => (mine ? enterConsole(counter.number) : openCounter(counter.number)));
    item.append(title, services, status, button);
    list.append(item);
  }
}

async function openCounter(number) {
  if (state.busy) return;
  state.busy = true;
  try {
    await api(`/counters/${number}/open`, { method: "POST", token: state.token });
    clearError();
    state.busy = false;
    await enterConsole(number);
  } catch (error) {
    state.busy = false;
    if (error.status === 401) return sessionEnded();
    showError(error, "sign_in_here");
    await loadCounters();
    renderPicker();
  }
}

function renderConsole() {
  if (!state.counter) return;
  renderHeader();
  renderTicket();
  renderButtons();
  renderWaiting();
  renderAlerts();
  lobby.render();
  tick();
  settleFocus();
}

function renderTicket() {
  const counter = state.counter;
  if (!counter) return;
  const ticket = counter.current_ticket;
  const badge = $("state-badge");
  badge.textContent = words.label("counter_states", counter.state);
  badge.className = `state-badge state-${counter.state}`;
  $("ticket-card").className = `card ticket-card state-${counter.state}`;

  let detail = t(`detail_${counter.state}`, {
    reason: counter.pause_reason ? words.label("pause_reasons", counter.pause_reason) : "",
  });
  if (ticket && ticket.recall_count) detail = `${t("recalled_times", { n: ticket.recall_count })} · ${detail}`;
  $("state-detail").textContent = detail;

  const number = $("ticket-number");
  number.textContent = ticket ? ticket.number : t("no_ticket");
  number.classList.toggle("is-empty", !ticket);
  const service = ticket ? state.services.get(ticket.service) : null;
  $("ticket-service").textContent = ticket ? (service ? `${service.code} · ${pick(service.name)}` : ticket.service) : "";
  const marks = $("ticket-marks");
  marks.replaceChildren();
  if (ticket?.priority) marks.append(mark("priority", t("mark_priority")));
  marks.hidden = !marks.childElementCount;
  const note = ticket ? ticket.note || (state.context?.id === ticket.id ? state.context.data?.ticket?.note : null) : null;
  $("ticket-note").hidden = !note;
  $("ticket-note-text").textContent = note || "";
  renderContext();
  if (ticket && state.context?.id !== ticket.id) loadContext(ticket.id);
  const help = counter.help || (counter.help_requested_at ? { state: "waiting", reason: "authorization" } : null);
  const flag = $("help-flag");
  flag.hidden = !(ticket && help);
  if (ticket && help) {
    flag.textContent = t("help_status", {
      reason: words.label("help_reasons", help.reason || "authorization"), state: words.label("help_states", help.state),
    });
    flag.dataset.state = help.state;
  }

  const documents = $("documents");
  documents.replaceChildren();
  $("documents-box").hidden = !ticket;
  if (ticket) {
    const list = service?.documents || [];
    if (!list.length) {
      const none = document.createElement("li");
      none.className = "muted";
      none.textContent = t("no_documents");
      documents.append(none);
    }
    for (const doc of list) {
      const item = document.createElement("li");
      item.textContent = pick(doc);
      documents.append(item);
    }
    const notes = service?.notes ? pick(service.notes) : "";
    $("service-notes").hidden = !notes;
    $("service-notes").textContent = notes;
  }
}

function renderButtons() {
  for (const button of document.querySelectorAll("[data-action]")) {
    button.disabled = state.busy || !isEnabled(button.dataset.action, state.counter, now());
  }
  const helpLabel = $("btn-help").querySelector(".action-label");
  const asked = Boolean(state.counter?.help_requested_at);
  helpLabel.dataset.i18n = asked ? "act_help_sent" : "act_help";
  helpLabel.textContent = t(helpLabel.dataset.i18n);
  // Calling a chosen customer needs a free counter, like call-next; a no-show may come back any time.
  const free = isEnabled("callTicket", state.counter);
  for (const button of document.querySelectorAll(".q-call")) button.disabled = state.busy || !free;
  for (const button of document.querySelectorAll(".came-back")) button.disabled = state.busy || !isEnabled("returnTicket", state.counter);
  renderTimed();
}

/** What runs against the branch's clock: the no-show's grace and the undo bar's countdown. */
function renderTimed() {
  const counter = state.counter;
  if (!counter) return;
  const at = now();
  const wait = counter.state === "calling" ? noShowWaitSeconds(counter, at) : 0;
  const noShow = $("btn-no-show");
  noShow.disabled = state.busy || !isEnabled("noShow", counter, at);
  const waitText = $("no-show-wait");
  waitText.textContent = wait > 0 ? t("no_show_wait", { s: wait }) : "";
  waitText.hidden = !(wait > 0);
  noShow.dataset.wait = String(wait);

  // The server undoes only at a free counter: once the next customer is called it is too late.
  // Nor once the no-show it would undo has come back.
  const gone = counter.undo?.action === "no_show" && state.backAgain.has(counter.undo.ticket?.id);
  const left = counter.state === "idle" && !gone ? undoSecondsLeft(counter, at) : 0;
  const bar = $("undo-bar");
  bar.hidden = !(left > 0);
  if (left > 0) {
    const undo = counter.undo;
    const number = undo.ticket?.number || "";
    let what;
    if (undo.action === "no_show") what = t("undo_what_no_show", { number });
    else if (undo.outcome) what = t("undo_what_complete", { number, outcome: words.label("outcomes", undo.outcome) });
    else what = t("undo_what_complete_plain", { number });
    $("undo-what").textContent = what;
    $("undo-left").textContent = t("undo_left", { s: left });
    bar.dataset.undo = undo.action;
  }
  $("btn-undo").disabled = state.busy || !isEnabled("undo", counter, at);
}

function mark(kind, text) {
  const element = document.createElement("span");
  element.className = `mark mark-${kind}`;
  element.textContent = text;
  return element;
}

function renderWaiting() {
  const list = $("waiting");
  if (!state.counter) {
    list.replaceChildren();
    renderWaiting.shown = null;
    return;
  }
  // Rebuilt only when what it shows has changed (events come often), and a focused row's button
  // keeps the focus when it is.
  const shown = JSON.stringify([i18n.lang, state.mine, state.counter.services, [...state.waiting], state.queue]);
  if (shown === renderWaiting.shown) {
    renderNoShows();
    renderButtons();
    return;
  }
  renderWaiting.shown = shown;
  const focused = document.activeElement?.closest?.(".waiting-card .queue-row");
  const refocus = focused ? { id: focused.dataset.ticketId, className: document.activeElement.className } : null;
  list.replaceChildren();
  const queue = new Map((state.queue || []).map((row) => [row.code, row]));
  let total = 0;
  const held = [];
  for (const code of state.counter.services) {
    const service = state.services.get(code);
    const row = state.waiting.get(code) || { waiting: 0, estimated_wait_s: 0 };
    total += row.waiting;
    const item = document.createElement("li");
    item.className = `service-group${row.waiting ? " has-waiting" : ""}`;
    item.dataset.service = code;
    const head = document.createElement("div");
    head.className = "waiting-head";
    const name = document.createElement("span");
    name.className = "waiting-name";
    name.textContent = service ? `${code} · ${pick(service.name)}` : code;
    const count = document.createElement("span");
    count.className = "waiting-count";
    count.textContent = t("waiting_count", { n: row.waiting });
    head.append(name, count);
    item.append(head);
    const tickets = queue.get(code)?.tickets || [];
    const waiting = tickets.filter((ticket) => !isHeld(ticket));
    held.push(...tickets.filter(isHeld));
    if (waiting.length) {
      const rows = document.createElement("ol");
      rows.className = "queue-rows";
      for (const ticket of waiting) rows.append(queueRow(ticket, false));
      item.append(rows);
    }
    list.append(item);
  }
  const sum = document.createElement("li");
  sum.className = "waiting-total";
  sum.textContent = t("waiting_total", { n: total });
  list.append(sum);

  const heldList = $("held-list");
  heldList.replaceChildren();
  for (const ticket of held) heldList.append(queueRow(ticket, true));
  $("held-box").hidden = !held.length;
  renderNoShows();
  renderButtons();
  if (refocus) {
    const row = document.querySelector(`.waiting-card .queue-row[data-ticket-id="${CSS.escape(refocus.id)}"] button`);
    if (row && !row.disabled) row.focus({ preventScroll: true });
    else settleFocus();
  }
}

function isHeld(ticket) {
  return Boolean(ticket.held) || ticket.status === "held";
}

/** One customer of the waiting list (or one set aside): number, marks, wait, and a button to call. */
function queueRow(ticket, held) {
  const item = document.createElement("li");
  item.className = `queue-row${held ? " is-held" : ""}${ticket.priority ? " is-priority" : ""}`;
  item.dataset.ticketId = String(ticket.id);
  item.dataset.number = ticket.number;
  const number = document.createElement("span");
  number.className = "q-number";
  number.textContent = ticket.number;
  const marks = document.createElement("span");
  marks.className = "q-marks";
  if (ticket.priority) marks.append(mark("priority", t("mark_priority")));
  if (ticket.at_risk) marks.append(mark("at-risk", t("mark_at_risk")));
  if (held) {
    marks.append(mark("held", t("mark_held")));
    if (ticket.counter != null && ticket.counter !== state.mine) marks.append(mark("by", t("held_by", { n: ticket.counter })));
  }
  if (ticket.directed_counter != null) {
    marks.append(ticket.directed_counter === state.mine
      ? mark("directed", t("mark_directed_here"))
      : mark("directed-other", t("mark_directed_other", { n: ticket.directed_counter })));
  }
  const waited = document.createElement("span");
  waited.className = "q-waited";
  waited.dataset.issuedAt = ticket.issued_at || "";
  waited.dataset.waitedS = String(ticket.waited_s ?? "");
  waited.textContent = waitedText(waited);
  const button = document.createElement("button");
  button.type = "button";
  button.className = `q-call${held ? " secondary" : ""}`;
  button.textContent = t(held ? "queue_call_back" : "queue_call");
  button.setAttribute("aria-label", t(held ? "queue_call_back_label" : "queue_call_label", { number: ticket.number }));
  button.addEventListener("click", () => run("callTicket", ticket.id));
  // Marks and the wait share one cell and wrap there: long marks never run into the wait.
  const info = document.createElement("span");
  info.className = "q-info";
  info.append(marks, waited);
  item.append(number, info, button);
  if (ticket.note) {
    const note = document.createElement("span");
    note.className = "q-note";
    note.textContent = ticket.note;
    item.append(note);
  }
  return item;
}

/** "已等 12 分钟": from the issue time against the branch's clock (the server's waited_s otherwise). */
function waitedText(element) {
  const issued = Date.parse(element.dataset.issuedAt || "");
  const seconds = Number.isFinite(issued) ? (now() - issued) / 1000 : Number(element.dataset.waitedS || 0);
  return t("queue_waited", { m: wholeMinutes(Math.floor(Math.max(0, seconds) / 60), i18n.lang) });
}

function renderNoShows() {
  const list = $("no-show-list");
  const noShows = state.view === "console" ? myNoShows() : [];
  const shown = JSON.stringify([i18n.lang, noShows]);
  if (shown === renderNoShows.shown && list.childElementCount === noShows.length) return;
  renderNoShows.shown = shown;
  list.replaceChildren();
  noShows.forEach((entry, index) => {
    const item = document.createElement("li");
    item.className = "queue-row is-no-show";
    item.dataset.ticketId = String(entry.id);
    item.dataset.number = entry.number;
    const number = document.createElement("span");
    number.className = "q-number";
    number.textContent = entry.number;
    const when = document.createElement("span");
    when.className = "q-waited";
    when.textContent = t("no_show_at", { time: timeOfDay(entry.at, state.branch?.timezone) });
    const button = document.createElement("button");
    button.type = "button";
    button.className = "came-back secondary";
    button.append(Object.assign(document.createElement("span"), { textContent: t("came_back") }));
    if (index === 0) {
      button.append(" ", Object.assign(document.createElement("kbd"), { textContent: "B" }));
      button.setAttribute("aria-keyshortcuts", "B");
    }
    button.disabled = state.busy || !isEnabled("returnTicket", state.counter);
    button.addEventListener("click", () => run("returnTicket", entry.id));
    item.append(number, when, button);
    list.append(item);
  });
  $("no-shows-box").hidden = !noShows.length;
}

// --- the customer's context -----------------------------------------------------------------------------

/** A read in flight, kept until it is answered (log-out waits for them: see onLogout). */
function reading(promise) {
  state.reading.add(promise);
  const done = () => state.reading.delete(promise);
  promise.then(done, done);
  return promise;
}

async function loadContext(id) {
  const seq = ++state.contextSeq;
  state.context = { id, data: null };
  try {
    const data = await reading(api(`/tickets/${id}/context`, { token: state.token }));
    if (seq !== state.contextSeq) return;
    state.context = { id, data };
    if (state.view === "console") renderTicket();
  } catch (error) {
    if (seq !== state.contextSeq) return;
    if (error.status === 401) sessionEnded();
    // Otherwise the card shows what the counter view carries; the context is a help, not a must.
  }
}

function renderContext() {
  const ticket = state.counter?.current_ticket;
  const context = ticket && state.context?.id === ticket.id ? state.context.data : null;
  const box = $("context-box");
  box.hidden = !context;
  if (!context) return;
  const facts = $("context-facts");
  facts.replaceChildren();
  const waited = context.waited_s ?? null;
  const parts = [];
  if (waited != null) parts.push(t("context_waited", { m: wholeMinutes(Math.floor(waited / 60), i18n.lang) }));
  const lang = context.lang || context.ticket?.lang;
  if (lang) parts.push(t("context_lang", { lang: MESSAGES[`lang_name_${lang}`] ? t(`lang_name_${lang}`) : lang }));
  facts.append(parts.join(" · "));
  if (context.priority ?? context.ticket?.priority) facts.append(" ", mark("priority", t("mark_priority")));

  const history = (context.history || []).filter((entry) => entry.note || NOTABLE.includes(entry.action));
  const historyList = $("context-history");
  historyList.replaceChildren();
  for (const entry of history) {
    const item = document.createElement("li");
    item.dataset.action = entry.action;
    const head = [timeOfDay(entry.at, state.branch?.timezone), historyLabel(entry.action)];
    if (entry.from_service || entry.to_service) {
      head.push(`${entry.from_service || "?"} → ${entry.to_service || "?"}`);
    }
    if (entry.counter != null) head.push(t("context_counter", { n: entry.counter }));
    if (entry.to_counter != null) head.push(`→ ${t("context_counter", { n: entry.to_counter })}`);
    if (entry.by) head.push(entry.by);
    item.append(Object.assign(document.createElement("span"), { className: "context-head", textContent: head.filter(Boolean).join(" · ") }));
    if (entry.note) item.append(Object.assign(document.createElement("span"), { className: "context-note", textContent: `“${entry.note}”` }));
    historyList.append(item);
  }
  $("context-history-box").hidden = !history.length;

  const lobbyList = $("context-lobby");
  lobbyList.replaceChildren();
  for (const entry of context.lobby || []) {
    const item = document.createElement("li");
    item.dataset.kind = entry.kind;
    const kind = MESSAGES[`lobby_kind_${entry.kind}`] ? t(`lobby_kind_${entry.kind}`) : entry.kind;
    // Which alert, instruction or complaint it was, in the branch's words.
    const which = entry.rule ? words.label("alert_rules", entry.rule)
      : entry.instruction ? words.label("instruction_kinds", entry.instruction)
        : entry.complaint ? words.label("complaint_kinds", entry.complaint) : "";
    item.append(Object.assign(document.createElement("span"), {
      className: "context-head",
      textContent: [timeOfDay(entry.at, state.branch?.timezone), kind, which].filter(Boolean).join(" · "),
    }));
    const text = pick(entry.text);
    if (text) item.append(Object.assign(document.createElement("span"), { className: "context-note", textContent: text }));
    lobbyList.append(item);
  }
  $("context-lobby-box").hidden = !(context.lobby || []).length;
  $("context-none").hidden = Boolean(history.length || (context.lobby || []).length);
}

// History entries worth a teller's glance (any entry with a note is shown too).
const NOTABLE = ["transfer", "hold", "return", "no_show", "undo_complete", "undo_no_show", "cancel"];

function historyLabel(action) {
  const key = `hist_${{ call_next: "call", undo_complete: "undo", undo_no_show: "undo" }[action] || action}`;
  return MESSAGES[key] ? t(key) : action;
}

function renderAlerts() {
  const list = $("alerts");
  list.replaceChildren();
  const rank = { critical: 0, warning: 1 };
  const alerts = [...state.alerts.values()].sort(
    (a, b) => (rank[a.severity] ?? 2) - (rank[b.severity] ?? 2) || String(a.raised_at).localeCompare(String(b.raised_at)),
  );
  for (const alert of alerts) {
    const item = document.createElement("li");
    item.className = `alert alert-${alert.severity}`;
    item.dataset.rule = alert.rule;
    item.dataset.alertId = alert.id;
    const tag = document.createElement("span");
    tag.className = "alert-tag";
    tag.textContent = words.label("alert_severities", alert.severity);
    const text = document.createElement("span");
    text.className = "alert-text";
    text.textContent = pick(alert.messages) || alert.message || "";
    item.append(tag, text);
    list.append(item);
  }
  $("alerts-panel").hidden = alerts.length === 0;
}

/** The timer: time in the current phase, coloured against the service's overrun line. */
function tick() {
  if (state.view !== "console" || !state.counter) return;
  lobby.tick();
  renderTimed();
  for (const element of document.querySelectorAll(".q-waited[data-issued-at]")) element.textContent = waitedText(element);
  const phase = timerPhase(state.counter);
  const timer = $("timer");
  const row = $("timer-row");
  if (!phase || !state.live) {
    row.hidden = true;
    return;
  }
  row.hidden = false;
  const seconds = Math.max(0, state.live.clock.secondsSince(phase.since));
  timer.textContent = duration(seconds, i18n.lang, { pad: true });
  let level = "normal";
  let lineText = "";
  if (phase.phase === "serving") {
    const service = state.services.get(state.counter.current_ticket?.service);
    const line = overrunLine(service, state.branch?.service_overrun_factor);
    level = timerLevel(seconds, line);
    const usual = service.normal_service_s ? Math.round(service.normal_service_s / 60) : service.expected_minutes;
    if (line) lineText = t("timer_line", { usual, line: duration(line, i18n.lang) });
    if (level !== "normal") lineText = `${t(level === "over" ? "timer_over" : "timer_near")} · ${lineText}`;
  }
  $("timer-label").textContent = t(`timer_${phase.phase}`);
  $("timer-line").textContent = lineText;
  timer.classList.toggle("timer--near", level === "near");
  timer.classList.toggle("timer--over", level === "over");
  row.dataset.level = level;
}

/** If the focused control just became disabled, keep focus on the console so keys still work. */
function settleFocus() {
  if (state.view !== "console" || anyDialogOpen() || lobby.isOpen()) return;
  const active = document.activeElement;
  if (!active || active === document.body || active.disabled || active.closest("[hidden]")) {
    $("ticket-card").focus({ preventScroll: true });
  }
}

// --- errors ---------------------------------------------------------------------------------------

function showError(error, actionLabel = null) {
  let code = error?.code || "unexpected";
  if (error instanceof TypeError) code = "unexpected";
  state.error = {
    action: actionLabel,
    code: error?.status === 429 ? "rate_limited" : code,
    message: error?.message || "",
  };
  renderError();
}

function clearError() {
  state.error = null;
  renderError();
}

function renderError() {
  const box = $("error");
  const error = state.error;
  box.hidden = !error;
  if (!error) return;
  $("error-title").textContent = error.action ? t("error_action", { action: t(error.action) }) : t("error_generic");
  const key = `err_${error.code}`;
  const ours = MESSAGES[key] ? t(key) : "";
  // The server's words are English: shown only when the console has none of its own for the code.
  const theirs = !ours && error.message && !["network", "unexpected"].includes(error.code)
    ? t("server_said", { message: error.message }) : "";
  $("error-detail").textContent = ours;
  $("error-detail").hidden = !ours;
  $("error-server").textContent = theirs;
  $("error-server").hidden = !theirs;
}

bindChooser();
bindTransfer();
bindHold();
main();
