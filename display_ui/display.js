// The lobby display: paired once with a display device token, then live over Socket.IO. Shows the
// current call huge, the calls before it, waiting counts per service, the branch and its clock, and
// announces every call (chime, then speech or text in the branch's languages).

import { api } from "/static/js/api.js";
import { createI18n } from "/static/js/i18n.js";
import { minutes, timeOfDay } from "/static/js/format.js";
import { connectLive } from "/static/js/live.js";
import { applyCall, applySnapshot, missedCalls } from "./calls.js";
import { callTexts, createAnnouncer } from "./announcer.js";

const TOKEN_KEY = "callwise.display.device";
const HISTORY_ROWS = 6; // with the current call, the last seven calls
// Calls made while the page was offline are still announced after it reconnects, if they are this
// recent: someone may be waiting for exactly that number. Older ones are only shown.
const MISSED_CALL_ANNOUNCE_S = 120;
const REFUSED_RETRY_MS = 60000;

// The screen shows both languages at once, so texts are always asked for in a named language.
const i18n = createI18n({
  counter: { zh: "{n} 号窗口", en: "Counter {n}" },
  pairingInvalid: { zh: "此显示屏的配对已失效", en: "This display's pairing is no longer valid" },
  noWait: { zh: "随到随办", en: "no wait" },
  noCounter: { zh: "暂无窗口办理", en: "no counter open" },
  estimate: { zh: "预计等候{wait}", en: "{wait}" },
});

const $ = (id) => document.getElementById(id);

const state = {
  token: null,
  calls: [],           // newest first, the current call at [0] (calls.js)
  services: [],
  languages: ["zh", "en"],
  timeZone: undefined, // the branch's, once /api/v1/branch answered
  branchLoaded: false,
  snapshots: 0,
  currentKey: "",
};

// --- pairing ------------------------------------------------------------------------------------

/** The device token: taken from ?device= once (and removed from the address bar), then remembered. */
function pairedToken() {
  const url = new URL(window.location.href);
  const given = url.searchParams.get("device");
  if (given) {
    try {
      localStorage.setItem(TOKEN_KEY, given);
    } catch (error) {
      /* private mode: paired for this visit only */
    }
    url.searchParams.delete("device");
    window.history.replaceState(null, "", url.pathname + url.search + url.hash);
    return given;
  }
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch (error) {
    return null;
  }
}

function showUnpaired(invalid) {
  $("screen").hidden = true;
  $("unpaired").hidden = false;
  if (invalid) {
    $("unpaired-title-zh").textContent = i18n.t("pairingInvalid", {}, "zh");
    $("unpaired-title-en").textContent = i18n.t("pairingInvalid", {}, "en");
  }
  document.body.dataset.state = invalid ? "refused" : "unpaired";
}

// --- rendering ----------------------------------------------------------------------------------

function serviceOf(code) {
  return state.services.find((service) => service.code === code);
}

function callKey(call) {
  return call ? `${call.number}|${call.counter}|${call.lastCalledAt}|${call.recall}` : "";
}

/** Light up the current call: every call and recall as it comes, and after a reconnect if it changed. */
function flashCurrent() {
  restartAnimation($("now"), "flash");
  $("now").dataset.flashes = String(Number($("now").dataset.flashes || 0) + 1);
}

function renderCalls() {
  const [current, ...earlier] = state.calls;
  $("no-calls").hidden = Boolean(current);
  $("current").hidden = !current;
  $("current-number").textContent = current ? current.number : "—";
  $("current-number").classList.toggle("long", Boolean(current && current.number.length > 4));
  $("current-counter").textContent = current ? String(current.counter) : "—";
  $("current-recall").hidden = !(current && current.recall);
  $("current").dataset.number = current ? current.number : "";
  $("current").dataset.counter = current ? String(current.counter) : "";
  $("now").classList.toggle("is-recall", Boolean(current && current.recall));
  const service = current && serviceOf(current.service);
  $("current-service").textContent = service
    ? `${i18n.pick(service.name, "zh")} · ${i18n.pick(service.name, "en")}`
    : "";

  const rows = $("history-rows");
  const template = $("history-row");
  rows.replaceChildren(
    ...earlier.slice(0, HISTORY_ROWS).map((call) => {
      const row = template.content.firstElementChild.cloneNode(true);
      row.dataset.number = call.number;
      row.dataset.counter = String(call.counter);
      row.classList.toggle("is-recall", call.recall);
      row.querySelector(".h-number-text").textContent = call.number;
      row.querySelector(".h-recall").hidden = !call.recall;
      row.querySelector(".h-counter-zh").textContent = i18n.t("counter", { n: call.counter }, "zh");
      row.querySelector(".h-counter-en").textContent = i18n.t("counter", { n: call.counter }, "en");
      row.querySelector(".h-time").textContent = timeOfDay(new Date(call.lastCalledAt).toISOString(), state.timeZone);
      return row;
    }),
  );
}

function renderQueues() {
  const list = $("queue-list");
  const template = $("queue-item");
  list.replaceChildren(
    ...state.services.map((service) => {
      const item = template.content.firstElementChild.cloneNode(true);
      item.dataset.service = service.code;
      item.querySelector(".q-code").textContent = service.code;
      item.querySelector(".q-name-zh").textContent = i18n.pick(service.name, "zh");
      item.querySelector(".q-name-en").textContent = i18n.pick(service.name, "en");
      item.querySelector(".q-waiting").textContent = String(service.waiting ?? 0);
      item.classList.toggle("is-empty", !service.waiting);
      const noWait = !(service.estimated_wait_s > 0);
      const noCounter = service.estimated_wait_s == null && service.waiting > 0;
      for (const lang of ["zh", "en"]) {
        item.querySelector(`.q-wait-${lang}`).textContent = noCounter
          ? i18n.t("noCounter", {}, lang)
          : noWait
            ? i18n.t("noWait", {}, lang)
            : i18n.t("estimate", { wait: minutes(service.estimated_wait_s, lang) }, lang);
      }
      return item;
    }),
  );
  list.dataset.count = String(state.services.length);
}

function renderBranch(branch) {
  if (!branch) return;
  $("branch-zh").textContent = i18n.pick(branch.name, "zh");
  $("branch-en").textContent = i18n.pick(branch.name, "en");
  document.title = `${i18n.pick(branch.name, "zh")} · 叫号屏 / Lobby display`;
  if (Array.isArray(branch.languages) && branch.languages.length) state.languages = branch.languages;
}

/** Start a CSS animation again even if its class is already there. */
function restartAnimation(element, className) {
  element.classList.remove(className);
  void element.offsetWidth; // a reflow, so the browser sees the class come back
  element.classList.add(className);
}

$("now").addEventListener("animationend", (event) => {
  if (event.target === $("now")) $("now").classList.remove("flash");
});

// --- the clock ----------------------------------------------------------------------------------

let live = null;

function tick() {
  const now = new Date(live ? live.clock.now() : Date.now());
  const zone = state.timeZone;
  if (zone) {
    const time = { hour: "2-digit", minute: "2-digit", timeZone: zone };
    $("clock-time").textContent = now.toLocaleTimeString("en-GB", time);
    $("clock-time").dateTime = now.toISOString();
    const zh = now.toLocaleDateString("zh-CN", { month: "long", day: "numeric", weekday: "long", timeZone: zone });
    const en = now.toLocaleDateString("en-GB", { weekday: "short", day: "numeric", month: "short", timeZone: zone });
    $("clock-date").textContent = `${zh} · ${en}`;
  }
  setTimeout(tick, 1000 - (Date.now() % 1000) + 5);
}

// --- announcements ------------------------------------------------------------------------------

/** Put a call's words in the announcement bar, which is also the aria-live region. */
function showAnnouncement(call, texts) {
  const region = $("announcement");
  const byLang = Object.fromEntries(texts.map((entry) => [entry.lang, entry.text]));
  $("announce-zh").textContent = byLang.zh || "";
  $("announce-en").textContent = byLang.en || "";
  region.dataset.number = call.number;
  region.dataset.counter = String(call.counter);
  region.dataset.recall = String(Boolean(call.recall));
}

const announcer = createAnnouncer({
  onStart(call, texts) {
    showAnnouncement(call, texts);
    const region = $("announcement");
    region.dataset.count = String(Number(region.dataset.count) + 1); // announcements made, for tests
    restartAnimation(region, "fresh");
    document.body.classList.add("announcing");
  },
  onDone() {
    document.body.classList.remove("announcing");
  },
  onSoundBlocked(blocked) {
    $("sound-hint").hidden = !blocked;
  },
});

for (const type of ["pointerdown", "keydown"]) {
  window.addEventListener(type, () => {
    announcer.unlock();
    $("sound-hint").hidden = true;
  });
}

// --- live data ----------------------------------------------------------------------------------

async function loadBranch() {
  try {
    const branch = await api("/branch", { token: state.token });
    state.timeZone = branch.timezone || undefined;
    state.branchLoaded = true;
    renderBranch(branch);
    renderCalls();
  } catch (error) {
    /* offline for now: the next snapshot tries again; the clock waits for the time zone */
  }
}

function onSnapshot(snapshot) {
  renderBranch(snapshot.branch);
  state.services = Array.isArray(snapshot.services) ? snapshot.services : [];
  renderQueues();
  const before = state.calls;
  state.calls = applySnapshot(before, snapshot.recent_calls);
  if (state.snapshots === 0 && state.calls.length) {
    // A display switched on mid-day shows the words of the current call, without saying them again.
    showAnnouncement(state.calls[0], callTexts(state.calls[0], state.languages));
  } else if (state.snapshots > 0) {
    const now = Date.parse(snapshot.now) || Date.now();
    for (const call of missedCalls(before, state.calls)) {
      if (now - call.lastCalledAt <= MISSED_CALL_ANNOUNCE_S * 1000) announcer.announce(call, state.languages);
    }
  }
  state.snapshots += 1;
  renderCalls();
  const key = callKey(state.calls[0]);
  if (state.snapshots > 1 && key && key !== state.currentKey) flashCurrent();
  state.currentKey = key;
  document.body.dataset.snapshots = String(state.snapshots);
  if (!state.branchLoaded) loadBranch();
}

function onTicketCalled(event) {
  const { calls, call } = applyCall(state.calls, event);
  state.calls = calls;
  renderCalls();
  flashCurrent();
  state.currentKey = callKey(state.calls[0]);
  announcer.announce(call, state.languages);
}

function onQueueChanged(event) {
  for (const change of (event && event.services) || []) {
    const service = serviceOf(change.code);
    if (service) Object.assign(service, { waiting: change.waiting, estimated_wait_s: change.estimated_wait_s });
  }
  renderQueues();
}

let refusedRetry = null;

function onStatus(status) {
  if (status === "refused") {
    live.socket.disconnect();
    showUnpaired(true);
    // A revoked token stays refused; a server that refused by mistake (mid-restart, say) is asked
    // again now and then, so the TV comes back without anyone touching it.
    clearTimeout(refusedRetry);
    refusedRetry = setTimeout(() => live.socket.connect(), REFUSED_RETRY_MS);
    return;
  }
  if (status === "online" && document.body.dataset.state === "refused") showScreen();
  document.body.dataset.connection = status;
  $("connection").hidden = status === "online";
}

function showScreen() {
  $("unpaired").hidden = true;
  $("screen").hidden = false;
  document.body.dataset.state = "paired";
}

function start() {
  state.token = pairedToken();
  if (!state.token) {
    showUnpaired(false);
    return;
  }
  showScreen();
  renderCalls();
  live = connectLive({
    auth: { token: state.token },
    onSnapshot,
    onStatus,
    on: { ticket_called: onTicketCalled, queue_changed: onQueueChanged },
  });
  // A server that refuses the token leaves the socket inactive (it will not retry); a network failure
  // does not. This holds whatever words the refusal came with.
  live.socket.on("connect_error", () => {
    if (!live.socket.active) onStatus("refused");
  });
  // When the TV's network comes back, try at once rather than wait out the reconnection back-off.
  window.addEventListener("online", () => {
    if (!live.socket.connected && document.body.dataset.state === "paired") live.socket.disconnect().connect();
  });
  tick();
}

start();
