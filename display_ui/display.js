// The lobby display: paired once with a display device token, then live over Socket.IO. Shows the
// current call huge, the calls before it, waiting counts per service, the branch and its clock, and
// announces every call (chime, then speech or text in the branch's languages).

import { api } from "/static/js/api.js";
import { createI18n } from "/static/js/i18n.js";
import { ago, minutes, timeOfDay } from "/static/js/format.js";
import { hoursAt, openingText, stateWord } from "/static/js/hours.js";
import { connectLive } from "/static/js/live.js";
import { applyCall, applySnapshot, missedCalls } from "./calls.js";
import { callTexts, createAnnouncer } from "./announcer.js";

const TOKEN_KEY = "callwise.display.device";
const HISTORY_ROWS = 6; // with the current call, the last seven calls
// Calls made while the page was offline are still announced after it reconnects, if they are this
// recent: someone may be waiting for exactly that number. Older ones are only shown.
const MISSED_CALL_ANNOUNCE_S = 120;
const REFUSED_RETRY_MS = 60000;
const HOURS_ASK_EVERY_MS = 60000; // past the hours held, ask for a fresh snapshot this often

// The screen shows both languages at once, so texts are always asked for in a named language.
const i18n = createI18n({
  counter: { zh: "{n} 号窗口", en: "Counter {n}" },
  pairingInvalid: { zh: "此显示屏的配对已失效", en: "This display's pairing is no longer valid" },
  noWait: { zh: "随到随办", en: "no wait" },
  noCounter: { zh: "暂无窗口办理", en: "no counter open" },
  // The hall's warning before closing, for those without the phone page (server: fits_before_close).
  late: { zh: "今天可能无法全部办理", en: "not all may be served today" },
  estimate: { zh: "预计等候{wait}", en: "{wait}" },
  lastCall: { zh: "上次叫号：{ago}", en: "Last call: {ago}" },
  voice_browser: { zh: "语音播报：本机语音", en: "Voice: this PC's speech" },
  voice_server: { zh: "语音播报：服务器语音（espeak-ng）", en: "Voice: the server's (espeak-ng)" },
  voice_none: { zh: "无语音播报：仅提示音和文字", en: "No voice available: chime and text only" },
  voice_off: { zh: "语音播报已关闭：仅提示音和文字", en: "Voice is off: chime and text only" },
  voice_lang: { zh: "{lang}：{who}", en: "{lang}: {who}" },
});
const LANGUAGE_NAMES = { zh: { zh: "中文", en: "Chinese" }, en: { zh: "英文", en: "English" } };

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
  hours: null,         // the branch's hours as last heard (hours.js works out the state from the clock)
  hoursAsked: 0,
  display: { idle_after_s: 600, voice: "auto", server_voice: false }, // GET /branch's `display`
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

/** No call for `idle_after_s`: the last one is history, not "now calling". */
function isIdle(current) {
  if (!current || !live) return false;
  return live.clock.now() - current.lastCalledAt >= state.display.idle_after_s * 1000;
}

function renderCalls() {
  const [latest, ...earlier] = state.calls;
  const idle = isIdle(latest);
  const current = idle ? null : latest;
  $("no-calls").hidden = Boolean(latest);
  $("idle").hidden = !idle;
  if (idle) {
    const seconds = (live.clock.now() - latest.lastCalledAt) / 1000;
    $("idle-since").textContent = `${i18n.t("lastCall", { ago: ago(seconds, "zh") }, "zh")} · ${i18n.t("lastCall", { ago: ago(seconds, "en") }, "en")}`;
  }
  $("now").dataset.view = idle ? "idle" : current ? "call" : "none";
  document.body.dataset.calls = $("now").dataset.view;
  $("current").hidden = !current;
  $("current-number").textContent = current ? current.number : "—";
  $("current-number").classList.toggle("long", Boolean(current && current.number.length > 4));
  $("current-counter").textContent = current ? String(current.counter) : "—";
  $("current-recall").hidden = !(current && current.recall);
  $("current-priority").hidden = !(current && current.priority);
  $("call-badges").hidden = !(current && (current.recall || current.priority));
  $("current").dataset.priority = String(Boolean(current && current.priority));
  $("now").classList.toggle("is-priority", Boolean(current && current.priority));
  $("current").dataset.number = current ? current.number : "";
  $("current").dataset.counter = current ? String(current.counter) : "";
  $("now").classList.toggle("is-recall", Boolean(current && current.recall));
  const service = current && serviceOf(current.service);
  $("current-service").textContent = service
    ? `${i18n.pick(service.name, "zh")} · ${i18n.pick(service.name, "en")}`
    : "";

  const rows = $("history-rows");
  const template = $("history-row");
  const past = idle ? state.calls : earlier;
  rows.replaceChildren(
    ...past.slice(0, HISTORY_ROWS).map((call) => {
      const row = template.content.firstElementChild.cloneNode(true);
      row.dataset.number = call.number;
      row.dataset.counter = String(call.counter);
      row.classList.toggle("is-recall", call.recall);
      row.querySelector(".h-number-text").textContent = call.number;
      row.querySelector(".h-recall").hidden = !call.recall;
      row.querySelector(".h-priority").hidden = !call.priority;
      row.dataset.priority = String(call.priority);
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
      // People wait whom the counters may not reach before closing (a new ticket would not fit).
      const late = !noCounter && service.waiting > 0 && service.fits_before_close === false;
      item.classList.toggle("is-late", late);
      for (const lang of ["zh", "en"]) {
        item.querySelector(`.q-wait-${lang}`).textContent = noCounter
          ? i18n.t("noCounter", {}, lang)
          : late
            ? i18n.t("late", {}, lang)
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

// --- the hours ----------------------------------------------------------------------------------

let live = null;

/** Open (or the last tickets issued): calls and queues. Otherwise the closed screen, never a stale call. */
function renderHours() {
  if (!live || !state.timeZone) return;
  const now = live.clock.now();
  const view = hoursAt(state.hours, now, state.timeZone);
  if (!view) return;
  const closed = !["open", "last_tickets_issued"].includes(view.state);
  document.body.dataset.hours = view.state;
  $("closed").hidden = !closed;
  for (const part of document.querySelectorAll(".board, #queues")) part.hidden = closed;
  if (closed) {
    $("closed").dataset.state = view.state;
    $("closed-state-zh").textContent = stateWord(view.state, "zh");
    $("closed-state-en").textContent = stateWord(view.state, "en");
    $("closed-opening-zh").textContent = openingText(view, "zh", state.timeZone, now);
    $("closed-opening-en").textContent = openingText(view, "en", state.timeZone, now);
  }
  if (view.stale && Date.now() - state.hoursAsked > HOURS_ASK_EVERY_MS) {
    state.hoursAsked = Date.now();
    live.refresh();
  }
}

// --- the voice ----------------------------------------------------------------------------------

/** The status bar says who speaks the calls here (or that nobody can). */
function renderVoiceStatus() {
  const sources = announcer.sources(state.languages.filter((lang) => lang in LANGUAGE_NAMES));
  const kinds = [...new Set(Object.values(sources))];
  const status = $("voice-status");
  status.dataset.voice = kinds.length === 1 ? kinds[0] : "mixed";
  for (const lang of ["zh", "en"]) {
    let text;
    if (state.display.voice === "off") text = i18n.t("voice_off", {}, lang);
    else if (kinds.length === 1) text = i18n.t(`voice_${kinds[0]}`, {}, lang);
    else {
      text = Object.entries(sources).map(([spoken, who]) => i18n.t("voice_lang", {
        lang: LANGUAGE_NAMES[spoken][lang], who: i18n.t(`voice_${who}`, {}, lang),
      }, lang)).join("；");
    }
    $(`voice-status-${lang}`).textContent = text;
  }
}

// --- the clock ----------------------------------------------------------------------------------

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
    renderHours();
    if (state.calls.length && now.getSeconds() % 5 === 0) renderCalls(); // idle after the quiet time
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
  onServerVoice(lang, bytes) {
    // Server-voice announcements fetched, and their size, for tests and for whoever looks.
    const status = $("voice-status");
    status.dataset.served = String(Number(status.dataset.served || 0) + 1);
    status.dataset.lastBytes = String(bytes);
  },
});
if (window.speechSynthesis && "onvoiceschanged" in window.speechSynthesis) {
  window.speechSynthesis.addEventListener("voiceschanged", renderVoiceStatus);
}

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
    if (branch.display) state.display = { ...state.display, ...branch.display };
    if (!state.hours && branch.hours) state.hours = branch.hours;
    announcer.configure({ mode: state.display.voice, serverVoice: Boolean(state.display.server_voice), token: state.token });
    renderBranch(branch);
    renderVoiceStatus();
    renderCalls();
    renderHours();
  } catch (error) {
    /* offline for now: the next snapshot tries again; the clock waits for the time zone */
  }
}

function onSnapshot(snapshot) {
  renderBranch(snapshot.branch);
  if (snapshot.hours) state.hours = snapshot.hours;
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
  renderHours();
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
    if (service) {
      Object.assign(service, { waiting: change.waiting, estimated_wait_s: change.estimated_wait_s,
        fits_before_close: change.fits_before_close });
    }
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
    on: {
      ticket_called: onTicketCalled,
      queue_changed: onQueueChanged,
      // A manual clock jumped (tests, demos): new hours come with a fresh snapshot.
      clock_changed: () => live.refresh(),
    },
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
