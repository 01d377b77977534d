// The teller's console: log in, pick (or resume) a counter, then call, serve and finish customers.
//
// The server decides everything: buttons are enabled from the counter's state as the server last
// told it (state_snapshot, counter_changed, or the answer to an action), and any refusal is shown
// with the server's own message, after which the console reloads the counter's real state.

import { api } from "/static/js/api.js";
import { keyedOption } from "/static/js/dom.js";
import { createI18n } from "/static/js/i18n.js";
import { connectLive } from "/static/js/live.js";
import { duration } from "/static/js/format.js";
import { createWords } from "/static/js/vocabulary.js";
import { MESSAGES } from "./messages.js";
import {
  ACTIONS, actionForKey, bodyFor, isEnabled, isTyping, keyOf, overrunLine, timerLevel, timerPhase,
} from "./model.js";
import { createLobby } from "./lobby.js";

const TOKEN_KEY = "callwise.counter.token"; // sessionStorage: a reload resumes, a closed tab forgets
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
});

// --- start ------------------------------------------------------------------------------------

async function main() {
  i18n.apply();
  renderLangToggle();
  bindStaticControls();
  try {
    state.branch = await api("/branch");
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
  if (state.view === "console") renderWaiting();
}

function onTicketChanged(ticket) {
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
  if (!isEnabled(name, state.counter)) {
    nudge(name);
    return;
  }
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

/** One action's request, and the counter's state after it; false if it was refused. */
async function send(name, choice) {
  const action = ACTIONS[name];
  const number = state.mine;
  try {
    const result = await api(`/counters/${number}/${action.path}`, {
      method: "POST", body: bodyFor(name, choice), token: state.token,
    });
    clearError();
    if (name === "close") {
      await showPicker();
      return true;
    }
    if (result && result.number === number && "state" in result) applyMine(result);
  } catch (error) {
    if (error.status === 401) {
      sessionEnded();
      return false;
    }
    showError(error, action.label);
    if (state.live) state.live.refresh();
    await reloadCounter();
    return false;
  }
  // Whatever the answer, show what the server now holds (events may lag or be lost).
  await reloadCounter();
  return true;
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

/** A shortcut for something that does not apply now: a brief shake of its button, nothing sent. */
function nudge(name) {
  const button = document.querySelector(`[data-action="${name}"]`);
  if (!button) return;
  button.classList.remove("nudge");
  void button.offsetWidth; // restart the animation
  button.classList.add("nudge");
}

function onKey(event) {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
  if (state.view !== "console" || $("chooser").open) return;
  if (lobby.onKey(event)) return; // answering an instruction, "told something different", its dialog
  if (isTyping(event.target)) return;
  const key = keyOf(event);
  const name = actionForKey(key);
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
  const dialog = $("chooser");
  const options = [];
  const ticket = state.counter?.current_ticket;
  if (name === "transfer") {
    $("chooser-title").textContent = t("choose_transfer", { ticket: ticket ? ticket.number : "" });
    $("chooser-hint").textContent = t("choose_transfer_hint");
    for (const service of state.services.values()) {
      if (ticket && service.code === ticket.service) continue;
      options.push({ value: service.code, label: `${service.code} · ${pick(service.name)}` });
    }
  } else if (name === "pause") {
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
    button.disabled = state.busy || !isEnabled(button.dataset.action, state.counter);
  }
  const helpLabel = $("btn-help").querySelector(".action-label");
  const asked = Boolean(state.counter?.help_requested_at);
  helpLabel.dataset.i18n = asked ? "act_help_sent" : "act_help";
  helpLabel.textContent = t(helpLabel.dataset.i18n);
}

function renderWaiting() {
  const list = $("waiting");
  list.replaceChildren();
  if (!state.counter) return;
  let total = 0;
  for (const code of state.counter.services) {
    const service = state.services.get(code);
    const row = state.waiting.get(code) || { waiting: 0, estimated_wait_s: 0 };
    total += row.waiting;
    const item = document.createElement("li");
    item.className = row.waiting ? "has-waiting" : "";
    item.dataset.service = code;
    const name = document.createElement("span");
    name.className = "waiting-name";
    name.textContent = service ? `${code} · ${pick(service.name)}` : code;
    const count = document.createElement("span");
    count.className = "waiting-count";
    count.textContent = t("waiting_count", { n: row.waiting });
    item.append(name, count);
    list.append(item);
  }
  const sum = document.createElement("li");
  sum.className = "waiting-total";
  sum.textContent = t("waiting_total", { n: total });
  list.append(sum);
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
  if (state.view !== "console" || $("chooser").open || lobby.isOpen()) return;
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
  const theirs = error.message && !["network", "unexpected"].includes(error.code) ? t("server_said", { message: error.message }) : "";
  $("error-detail").textContent = ours;
  $("error-detail").hidden = !ours;
  $("error-server").textContent = theirs;
  $("error-server").hidden = !theirs;
}

bindChooser();
main();
