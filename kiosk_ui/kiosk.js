// The ticket kiosk: pick a service, read what to bring, confirm, take the printed ticket.
//
// One customer at a time stands here, so the page is a small state machine of full screens
// (services → documents → ticket, or → error) and always finds its own way back to the list.

import { api, ApiError, newIdempotencyKey } from "/static/js/api.js";
import { createI18n } from "/static/js/i18n.js";
import { connectLive, serverClock } from "/static/js/live.js";
import { dateTime, minutes, timeOfDay } from "/static/js/format.js";
import { closingText, hoursAt, openingText } from "/static/js/hours.js";
import { createWords } from "/static/js/vocabulary.js";

const DEVICE_KEY = "callwise.kiosk.device";
const DOCUMENTS_IDLE_MS = 30_000;   // a customer who walked away from the documents screen
const TICKET_SHOWN_S = 10;          // long enough to read the number, short enough for the next person
const ERROR_IDLE_MS = 60_000;
const LIST_IDLE_MS = 60_000;        // back to the default language for the next customer
const QR_WAIT_MS = 3_000;           // print without the QR code rather than not at all

const messages = {
  title: { zh: "取号机", en: "Ticket kiosk" },
  choose_service: { zh: "请选择您要办理的业务", en: "What would you like to do today?" },
  choose_service_lead: { zh: "轻触业务即可查看所需材料并取号", en: "Tap a service to see what to bring and take a ticket" },
  ask_staff: { zh: "如需帮助，请咨询大堂经理", en: "Need help? Please ask our lobby staff." },
  no_services: { zh: "暂无可办理的业务，请咨询大堂经理。", en: "No services are open right now. Please ask the lobby staff." },
  waiting_count: { zh: "{n} 人等候", en: "{n} waiting" },
  waiting_one: { zh: "1 人等候", en: "1 waiting" },
  no_wait: { zh: "无需等候", en: "No wait" },
  no_counter: { zh: "暂无窗口办理此业务", en: "No counter is open for this service now" },
  nobody_waiting: { zh: "无人等候", en: "Nobody waiting" },
  may_not_be_served: { zh: "今天可能无法办理", en: "May not be served today" },
  late_title: { zh: "今天可能轮不到您", en: "You may not be served today" },
  late_text: {
    zh: "按目前的排队情况，轮到您时可能已过 {time} 的营业结束时间；届时仍未叫号的号码将被取消。",
    en: "With the queue as it is now, your turn may come after we close at {time}. Tickets not called by then are cancelled.",
  },
  unstaffed_title: { zh: "目前没有窗口办理此业务", en: "No counter is open for this service now" },
  unstaffed_text: {
    zh: "您仍可取号，有窗口开放后按顺序叫号。如需帮助，请咨询大堂经理。",
    en: "You can still take a ticket: you will be called in turn once a counter opens. Need help? Please ask our lobby staff.",
  },
  confirm_anyway: { zh: "仍然取号", en: "Take a ticket anyway" },
  paper_no_counter: { zh: "暂无窗口", en: "No counter open" },
  wait_label: { zh: "预计等候", en: "Estimated wait" },
  you_chose: { zh: "您选择了", en: "You chose" },
  please_bring: { zh: "请准备以下材料", en: "Please have ready" },
  no_documents: { zh: "无需准备材料", en: "Nothing to bring" },
  notes: { zh: "温馨提示", en: "Good to know" },
  takes_about: { zh: "办理约需 {m} 分钟", en: "Takes about {m} min at the counter" },
  back: { zh: "返回", en: "Back" },
  confirm: { zh: "确认取号", en: "Take a ticket" },
  priority_option: { zh: "优先服务", en: "Priority customer" },
  priority_who: { zh: "老年人、残障人士、孕妇", en: "Elderly, disabled or pregnant" },
  priority_title: { zh: "优先服务", en: "Priority service" },
  priority_text: {
    zh: "优先服务适用于老年人、残障人士和孕妇——工作人员可能会核实。",
    en: "For elderly, disabled or pregnant customers — a staff member may check.",
  },
  priority_confirm: { zh: "确认，取优先号", en: "Confirm: priority ticket" },
  priority_for: { zh: "您选择了：{service}", en: "You chose: {service}" },
  paper_priority: { zh: "优先", en: "Priority" },
  issuing: { zh: "正在出票，请稍候…", en: "Printing your ticket…" },
  take_ticket: { zh: "请取走您的号票", en: "Please take your ticket" },
  take_ticket_lead: { zh: "扫描号票上的二维码，可在手机上查看排队进度。", en: "Scan the QR code on your ticket to follow your place in the queue on your phone." },
  countdown: { zh: "{s} 秒后返回首页", en: "Back to the start in {s} s" },
  done: { zh: "完成", en: "Done" },
  your_number: { zh: "您的号码", en: "Your number" },
  people_ahead: { zh: "前面等候", en: "People ahead" },
  people_n: { zh: "{n} 人", en: "{n}" },
  estimated_wait: { zh: "预计等候", en: "Estimated wait" },
  scan_to_follow: { zh: "扫码查看排队进度", en: "Scan to follow your ticket" },
  paper_footer: { zh: "过号请重新取号 · 请留意叫号", en: "Listen for your number · if missed, take a new ticket" },
  offline: { zh: "网络连接中断，正在重新连接…", en: "Connection lost — reconnecting…" },
  switch_to: { zh: "English", en: "中文" },
  switch_label: { zh: "Switch to English", en: "切换到中文" },
  service_label: { zh: "{name}，{kind}，{waiting}，预计等候{wait}", en: "{name}, {kind}, {waiting}, estimated wait {wait}" },
};

// Outside the hours, in both languages at once (see kiosk.html): [zh, en] per state.
const CLOSED = {
  before_opening: {
    title: ["本网点尚未营业", "We are not open yet"],
    detail: ["营业开始后即可取号。", "Tickets can be taken once we open."],
  },
  last_tickets_issued: {
    title: ["今日取号已结束", "No more tickets today"],
    detail: ["已取号的客户请留意叫号。", "If you have a ticket, please listen for your number."],
  },
  closed: {
    title: ["本网点已停止营业", "The branch is closed"],
    detail: ["感谢您的光临。", "Thank you for visiting."],
  },
};

// Plain words for what went wrong, in both languages at once (see kiosk.html).
const ERRORS = {
  network: ["无法连接服务器。请稍后重试，或咨询大堂经理。", "The kiosk cannot reach the server. Please try again, or ask the lobby staff."],
  rate: ["取号过于频繁，请稍等片刻再试。", "Too many tickets in a short time. Please wait a moment and try again."],
  busy: ["系统繁忙，请稍等片刻再试。", "The system is busy. Please wait a moment and try again."],
  other: ["出票失败，请咨询大堂经理。", "The ticket could not be issued. Please ask the lobby staff."],
};

const $ = (id) => document.getElementById(id);
const screens = ["loading", "unpaired", "services", "documents", "priority", "closed", "error", "ticket"];
const CHOOSING = ["services", "documents", "priority"]; // the screens where the customer may switch language
const HOURS_ASK_EVERY_MS = 60_000; // past the hours we hold, ask the server for new ones this often

const state = {
  token: null,
  branch: null,
  services: [],
  chosen: null,       // the service on the documents screen
  pending: null,      // {service, priority, key}: an attempt not yet answered; a retry reuses its key
  issuing: false,
  live: null,
  clock: serverClock(),
  hours: null,        // as the server last sent them (hours.js works out the state from the clock)
  closedMessage: null, // {lang, text}: the server's own words when it refused a ticket (409 branch_closed)
  hoursAsked: 0,
};
let i18n = createI18n(messages);
// Service kinds: the branch's vocabulary (GET /api/v1/branch).
const words = createWords(() => state.branch?.vocabulary, (text) => i18n.pick(text));
let idleTimer = null;
let countdownTimer = null;

// --- pairing ------------------------------------------------------------------------------------

/** The device token: from ?device= once (then out of the address bar and history), else remembered. */
function pairedToken() {
  const url = new URL(location.href);
  const given = url.searchParams.get("device");
  if (given) {
    localStorage.setItem(DEVICE_KEY, given);
    url.searchParams.delete("device");
    history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
  return localStorage.getItem(DEVICE_KEY);
}

// --- screens ------------------------------------------------------------------------------------

function show(name) {
  for (const screen of screens) $(`screen-${screen}`).hidden = screen !== name;
  state.screen = name;
  // Not on the ticket: it is printed in the language it was asked in.
  $("lang-toggle").hidden = !CHOOSING.includes(name) || i18n.languages.length < 2;
  // Keyboard and screen-reader users land on the new screen's heading, not on a vanished button.
  const heading = $(`screen-${name}`).querySelector("h1");
  if (heading) heading.focus({ preventScroll: true });
  window.scrollTo(0, 0);
}

function clearTimers() {
  clearTimeout(idleTimer);
  clearInterval(countdownTimer);
  idleTimer = null;
  countdownTimer = null;
  state.idle = null;
}

/** After `ms` without a touch, do `then` (every tap or key on the page restarts the wait). */
function armIdle(ms, then) {
  clearTimeout(idleTimer);
  idleTimer = setTimeout(then, ms);
  state.idle = { ms, then };
}

function touched() {
  if (state.idle && idleTimer !== null) armIdle(state.idle.ms, state.idle.then);
}

/** The list, in the default language: the state every customer should find the kiosk in. */
function startOver() {
  clearTimers();
  state.chosen = null;
  // A new customer makes a new decision: an unanswered attempt is not theirs to inherit.
  state.pending = null;
  if (i18n.lang !== i18n.languages[0]) i18n.setLang(i18n.languages[0]);
  showServices();
}

function showServices() {
  if (!isOpen()) {
    showClosed();
    return;
  }
  renderServices();
  show("services");
  armListIdle();
}

/** A list left in another language goes back to the default one for the next customer. */
function armListIdle() {
  clearTimers();
  if (i18n.lang !== i18n.languages[0]) armIdle(LIST_IDLE_MS, startOver);
}

// --- the service list ---------------------------------------------------------------------------

function kindWord(kind) {
  return words.label("service_kinds", kind);
}

function waitingWords(waiting) {
  if (!waiting) return i18n.t("nobody_waiting");
  return waiting === 1 ? i18n.t("waiting_one") : i18n.t("waiting_count", { n: waiting });
}

/** No staffed counter serves the service: no estimate, and no wait is promised that none backs. */
function unstaffed(service) {
  return service.staffed_counters === 0 || service.estimated_wait_s === null || service.estimated_wait_s === undefined;
}

function waitWords(seconds) {
  if (seconds === null || seconds === undefined) return i18n.t("no_counter");
  return Math.ceil(Math.max(0, seconds) / 60) === 0 ? i18n.t("no_wait") : minutes(seconds, i18n.lang);
}

/** The service may not be reached before closing (GET /services' fits_before_close). */
function late(service) {
  return service.fits_before_close === false;
}

function renderServices() {
  // Rebuilding the buttons under a finger (or under keyboard focus) would lose the tap: when only
  // the counts changed, as on most snapshots, patch them in place.
  const signature = JSON.stringify([i18n.lang, state.services.map((s) => [s.code, s.name, s.kind])]);
  const list = $("service-list");
  if (signature === state.rendered) {
    for (const service of state.services) {
      const button = list.querySelector(`.service[data-code="${CSS.escape(service.code)}"]`);
      if (button) updateServiceButton(button, service);
    }
    return;
  }
  state.rendered = signature;
  list.replaceChildren();
  $("no-services").hidden = state.services.length > 0;
  for (const service of state.services) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = `service service-${service.kind}`;
    button.dataset.code = service.code;

    const code = document.createElement("span");
    code.className = "service-code";
    code.setAttribute("aria-hidden", "true");
    code.textContent = service.code;

    const body = document.createElement("span");
    body.className = "service-body";
    const name = document.createElement("span");
    name.className = "service-name";
    name.textContent = i18n.pick(service.name);
    const kind = document.createElement("span");
    kind.className = `service-kind kind-${service.kind}`;
    kind.textContent = kindWord(service.kind);
    body.append(name, kind);

    const live = document.createElement("span");
    live.className = "service-live";
    const wait = document.createElement("span");
    wait.className = "service-wait";
    const waitLabel = document.createElement("span");
    waitLabel.className = "service-wait-label";
    waitLabel.textContent = i18n.t("wait_label");
    const waitValue = document.createElement("span");
    waitValue.className = "service-wait-value";
    wait.append(waitLabel, waitValue);
    const waiting = document.createElement("span");
    waiting.className = "service-waiting";
    const warning = document.createElement("span");
    warning.className = "service-late";
    live.append(wait, waiting, warning);

    button.append(code, body, live);
    button.addEventListener("click", () => chooseService(service.code));
    item.append(button);
    list.append(item);
    updateServiceButton(button, service);
  }
}

function updateServiceButton(button, service) {
  const none = unstaffed(service);
  const waitValue = waitWords(none ? null : service.estimated_wait_s);
  const waitingValue = waitingWords(service.waiting);
  // Without a counter there is no estimate to label: the sentence stands alone.
  button.querySelector(".service-wait-label").hidden = none;
  button.querySelector(".service-wait").classList.toggle("no-counter", none);
  button.querySelector(".service-wait-value").textContent = waitValue;
  button.querySelector(".service-waiting").textContent = waitingValue;
  const warning = button.querySelector(".service-late");
  warning.hidden = !late(service);
  warning.textContent = late(service) ? i18n.t("may_not_be_served") : "";
  button.dataset.fits = String(!late(service));
  button.dataset.staffed = String(service.staffed_counters ?? "");
  const label = i18n.t("service_label", {
    name: i18n.pick(service.name), kind: kindWord(service.kind), waiting: waitingValue, wait: waitValue,
  });
  button.setAttribute("aria-label", late(service) ? `${label}, ${i18n.t("may_not_be_served")}` : label);
}

/** queue_changed carries counts only: patch them into the services we know. */
function applyCounts(counts) {
  for (const count of counts || []) {
    const service = state.services.find((s) => s.code === count.code);
    if (!service) continue;
    Object.assign(service, count);
    const button = document.querySelector(`.service[data-code="${CSS.escape(count.code)}"]`);
    if (button) updateServiceButton(button, service);
  }
}

function setServices(services) {
  state.services = services || [];
  if (state.chosen) {
    state.chosen = state.services.find((s) => s.code === state.chosen.code) || state.chosen;
  }
  if (state.screen === "services") renderServices();
}

// --- documents ----------------------------------------------------------------------------------

function chooseService(code) {
  const service = state.services.find((s) => s.code === code);
  if (!service) return;
  state.chosen = service;
  renderDocuments();
  setIssuing(false);
  show("documents");
  armIdle(DOCUMENTS_IDLE_MS, startOver);
}

function renderDocuments() {
  const service = state.chosen;
  if (!service) return;
  $("doc-service-name").textContent = i18n.pick(service.name);
  const meta = [kindWord(service.kind)];
  if (service.expected_minutes) meta.push(i18n.t("takes_about", { m: service.expected_minutes }));
  meta.push(unstaffed(service) ? i18n.t("no_counter") : `${i18n.t("wait_label")} ${waitWords(service.estimated_wait_s)}`);
  $("doc-service-meta").textContent = meta.join(" · ");
  // Said before the customer confirms: a counter may not reach them today, or none serves this now.
  const warning = $("doc-warning");
  const view = hoursView();
  // No counter is the cause when there is none (the server then cannot promise today either).
  const kind = unstaffed(service) ? "unstaffed" : late(service) ? "late" : "";
  if (kind === "late") {
    $("doc-warning-title").textContent = i18n.t("late_title");
    const time = view && view.closesAt ? timeOfDay(view.closesAt, state.branch?.timezone) : "";
    $("doc-warning-text").textContent = i18n.t("late_text", { time });
  } else if (kind === "unstaffed") {
    $("doc-warning-title").textContent = i18n.t("unstaffed_title");
    $("doc-warning-text").textContent = i18n.t("unstaffed_text");
  }
  warning.hidden = !kind;
  warning.dataset.kind = kind;
  $("confirm").textContent = i18n.t(kind === "late" ? "confirm_anyway" : "confirm");
  const list = $("doc-list");
  list.replaceChildren();
  for (const documentName of service.documents || []) {
    const item = document.createElement("li");
    item.textContent = i18n.pick(documentName);
    list.append(item);
  }
  $("doc-none").hidden = (service.documents || []).length > 0;
  const notes = i18n.pick(service.notes);
  $("doc-notes").hidden = !notes;
  $("doc-notes-text").textContent = notes;
}

// --- priority -----------------------------------------------------------------------------------

/** A priority customer (elderly, disabled, pregnant) says so on a screen of its own, then confirms. */
function choosePriority() {
  if (!state.chosen || state.issuing) return;
  renderPriority();
  setIssuing(false);
  show("priority");
  armIdle(DOCUMENTS_IDLE_MS, startOver);
}

/** The conditions in the customer's language, and under them in the other, for whoever is with them. */
function renderPriority() {
  const service = state.chosen;
  if (!service) return;
  const other = i18n.languages.find((lang) => lang !== i18n.lang);
  $("priority-service").textContent = i18n.t("priority_for", { service: i18n.pick(service.name) });
  $("priority-title").textContent = i18n.t("priority_title");
  $("priority-text").textContent = i18n.t("priority_text");
  $("priority-title-other").textContent = other ? i18n.t("priority_title", {}, other) : "";
  $("priority-text-other").textContent = other ? i18n.t("priority_text", {}, other) : "";
  for (const id of ["priority-title-other", "priority-text-other"]) {
    $(id).lang = other === "zh" ? "zh-CN" : other || "";
    $(id).hidden = !other;
  }
  $("priority-back").textContent = i18n.t("back");
  $("priority-confirm").textContent = i18n.t("priority_confirm");
}

function setIssuing(issuing) {
  state.issuing = issuing;
  $("confirm").disabled = issuing;
  $("back").disabled = issuing;
  $("priority").disabled = issuing;
  $("priority-confirm").disabled = issuing;
  $("priority-back").disabled = issuing;
  $("retry").disabled = issuing;
  $("error-back").disabled = issuing;
  $("lang-toggle").disabled = issuing;  // the ticket is asked for, and printed, in one language
  $("issuing").hidden = !issuing || state.screen !== "documents";
  $("priority-issuing").hidden = !issuing || state.screen !== "priority";
  $("retry").textContent = issuing ? "正在重试… / Retrying…" : "重试 / Try again";
}

// --- issuing ------------------------------------------------------------------------------------

/**
 * Ask for the ticket. The idempotency key belongs to the customer's decision, not to the request:
 * a retry after a timeout or an error sends the same key, so the server answers with the ticket it
 * may already have made instead of making a second one. `priority`: confirmed on the priority screen.
 */
async function issue(priority = false) {
  if (state.issuing || !state.chosen) return;
  const service = state.chosen;
  if (!state.pending || state.pending.service !== service.code || state.pending.priority !== priority) {
    state.pending = { service: service.code, priority, key: newIdempotencyKey() };
  }
  const attempt = state.pending;
  clearTimers();
  setIssuing(true);
  let ticket;
  try {
    ticket = await api("/tickets", {
      body: priority ? { service: service.code, lang: i18n.lang, priority: true } : { service: service.code, lang: i18n.lang },
      token: state.token,
      headers: { "Idempotency-Key": attempt.key },
      timeoutMs: 15000,
    });
  } catch (error) {
    setIssuing(false);
    if (error instanceof ApiError && error.status === 401) {
      showUnpaired();
      return;
    }
    if (error instanceof ApiError && error.code === "branch_closed") {
      // The hours ended while the customer read the documents: the server's words, in their language.
      state.pending = null;
      state.closedMessage = { lang: i18n.lang, text: error.message };
      askForHours(true);
      showClosed();
      return;
    }
    showError(error);
    return;
  }
  state.pending = null;
  setIssuing(false);
  await showTicket(ticket, service);
}

function showError(error) {
  const status = error instanceof ApiError ? error.status : 0;
  let words = ERRORS.other;
  if (status === 0) words = ERRORS.network;
  else if (status === 429) words = ERRORS.rate;
  else if (status === 503 || status >= 500) words = ERRORS.busy;
  $("error-detail-zh").textContent = words[0];
  $("error-detail-en").textContent = words[1];
  show("error");
  armIdle(ERROR_IDLE_MS, startOver);
}

// --- the ticket ---------------------------------------------------------------------------------

async function showTicket(ticket, service) {
  const lang = i18n.lang;
  $("paper-branch").textContent = i18n.pick(state.branch?.name);
  $("paper-number").textContent = ticket.number;
  // Marked as the server recorded it; in both languages, for the staff member who may check.
  $("paper-priority").hidden = !ticket.priority;
  $("paper-priority").textContent = `${messages.paper_priority.zh} · ${messages.paper_priority.en}`;
  $("paper-service").textContent = i18n.pick(service.name);
  $("paper-ahead").textContent = i18n.t("people_n", { n: ticket.people_ahead ?? 0 });
  $("paper-wait").textContent = ticket.estimated_wait_s == null
    ? i18n.t("paper_no_counter") : waitWords(ticket.estimated_wait_s);
  $("paper-late").hidden = ticket.fits_before_close !== false;
  $("paper-late").textContent = i18n.t("may_not_be_served");
  const docs = $("paper-docs");
  docs.replaceChildren();
  for (const documentName of service.documents || []) {
    const item = document.createElement("li");
    item.textContent = i18n.pick(documentName, lang);
    docs.append(item);
  }
  $("paper-docs-block").hidden = (service.documents || []).length === 0;
  $("paper-time").textContent = dateTime(ticket.issued_at, state.branch?.timezone);
  const qr = $("paper-qr");
  qr.alt = i18n.t("scan_to_follow");
  const loaded = imageLoaded(qr, QR_WAIT_MS);
  qr.src = ticket.qr_svg_url;
  $("done").disabled = true;  // leaving before the print would print the next screen instead
  $("ticket-countdown").textContent = "";
  show("ticket");

  await loaded;
  // Chromium started with --kiosk-printing prints this at once, without a dialog.
  window.print();
  $("done").disabled = false;

  // The reset is one timer; the countdown only shows it (a late tick must not delay the next customer).
  clearTimers();
  const deadline = Date.now() + TICKET_SHOWN_S * 1000;
  const tick = () => {
    const left = Math.max(1, Math.ceil((deadline - Date.now()) / 1000));
    $("ticket-countdown").textContent = i18n.t("countdown", { s: left });
  };
  tick();
  countdownTimer = setInterval(tick, 1000);
  idleTimer = setTimeout(startOver, TICKET_SHOWN_S * 1000);
}

/** Resolves when the image has loaded or failed, or after `ms`, whichever comes first. */
function imageLoaded(image, ms) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    const done = () => { clearTimeout(timer); resolve(); };
    image.addEventListener("load", done, { once: true });
    image.addEventListener("error", done, { once: true });
  });
}

// --- hours --------------------------------------------------------------------------------------

function hoursView() {
  return hoursAt(state.hours, state.clock.now(), state.branch?.timezone);
}

/** Tickets now? Without hours heard yet (the server is away) the kiosk stays as it was: open. */
function isOpen() {
  const view = hoursView();
  return !view || view.state === "open";
}

/** Past the hours the kiosk holds: ask for new ones (at once when told, else now and then). */
function askForHours(now = false) {
  if (!state.live) return;
  if (!now && Date.now() - state.hoursAsked < HOURS_ASK_EVERY_MS) return;
  state.hoursAsked = Date.now();
  state.live.refresh();
}

function renderClosed() {
  const view = hoursView();
  if (!view) return;
  const words = CLOSED[view.state] || CLOSED.closed;
  const zone = state.branch?.timezone;
  const now = state.clock.now();
  $("closed-title-zh").textContent = words.title[0];
  $("closed-title-en").textContent = words.title[1];
  const detail = { zh: words.detail[0], en: words.detail[1] };
  if (view.state === "last_tickets_issued") {
    detail.zh = `${words.detail[0]}本网点${closingText(view, "zh", zone)}。`;
    detail.en = `${words.detail[1]} ${closingText(view, "en", zone)}.`;
  }
  // The server's refusal speaks the customer's own language: it replaces that language's line.
  const told = state.closedMessage;
  if (told && told.lang in detail) detail[told.lang] = told.text;
  $("closed-detail-zh").textContent = detail.zh;
  $("closed-detail-en").textContent = detail.en;
  $("closed-opening-zh").textContent = openingText(view, "zh", zone, now);
  $("closed-opening-en").textContent = openingText(view, "en", zone, now);
  document.getElementById("screen-closed").dataset.state = view.state;
}

function showClosed() {
  clearTimers();
  state.chosen = null;
  state.pending = null;
  renderClosed();
  if (state.screen !== "closed") show("closed");
  // Whoever chose English is gone by the time the kiosk opens again.
  if (i18n.lang !== i18n.languages[0]) i18n.setLang(i18n.languages[0]);
}

/** On every clock tick and every snapshot: close or open the kiosk as the hours say. */
function followHours() {
  const view = hoursView();
  if (!view) return;
  document.body.dataset.hours = view.state;
  if (view.stale) askForHours();
  if (view.state !== "open") {
    // A ticket being printed finishes first; its own timer then comes back here.
    if (state.issuing || ["ticket", "unpaired", "loading"].includes(state.screen)) return;
    showClosed();
  } else if (state.screen === "closed") {
    state.closedMessage = null;
    startOver();
  }
}

// --- language -----------------------------------------------------------------------------------

function renderLanguageToggle() {
  i18n.labelToggle($("lang-toggle"));
}

function onLanguageChanged() {
  renderLanguageToggle();
  renderBranch();
  // Re-render in place: focus stays on the toggle for whoever is using a keyboard.
  if (state.screen === "services") {
    renderServices();
    armListIdle();
  }
  if (state.screen === "documents") renderDocuments();
  if (state.screen === "priority") renderPriority();
}

// --- branch, clock, connection -------------------------------------------------------------------

function renderBranch() {
  const name = i18n.pick(state.branch?.name);
  $("branch-name").textContent = name || "Callwise";
  document.title = `${i18n.t("title")} · ${name || "Callwise"}`;
}

function renderClock() {
  if (!state.branch) return;
  $("clock").textContent = timeOfDay(new Date(state.clock.now()).toISOString(), state.branch.timezone);
  followHours();
}

function showUnpaired() {
  clearTimers();
  if (state.live) state.live.close();
  state.live = null;
  show("unpaired");
}

async function start() {
  state.token = pairedToken();
  if (!state.token) {
    showUnpaired();
    return;
  }
  let branch;
  let services;
  try {
    [branch, services] = await Promise.all([
      api("/branch", { token: state.token }),
      api("/services", { token: state.token }),
    ]);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      showUnpaired();
      return;
    }
    // The server is down at start-up: say so, and let the live connection bring the list once it is back.
    branch = null;
    services = [];
    $("offline").hidden = false;
  }
  state.branch = branch;
  if (branch) {
    i18n = createI18n(messages, branch.languages && branch.languages.length ? branch.languages : ["zh", "en"]);
    state.clock.sync(branch.now);
    state.hours = branch.hours || null;
  }
  i18n.onChange(onLanguageChanged);
  i18n.apply();
  renderLanguageToggle();
  renderBranch();
  setServices(services);
  showServices();
  renderClock();
  setInterval(renderClock, 1000);

  state.live = connectLive({
    auth: { token: state.token },
    onSnapshot(snapshot) {
      if (snapshot.role && snapshot.role !== "kiosk") {
        showUnpaired();
        return;
      }
      if (snapshot.now) state.clock.sync(snapshot.now);
      if (snapshot.branch && state.branch) state.branch = { ...state.branch, ...snapshot.branch };
      if (!state.branch && snapshot.branch) {
        // Started while the server was away: reload once it answers, to get the branch's time zone.
        location.reload();
        return;
      }
      if (snapshot.hours) state.hours = snapshot.hours;
      setServices(snapshot.services);
      if (state.screen === "documents") renderDocuments();
      if (state.screen === "closed") renderClosed();
      renderClock();
    },
    on: {
      queue_changed: (payload) => applyCounts(payload.services),
      // A manual clock jumped (tests, demos): the hours may have moved on; fresh ones come with the snapshot.
      clock_changed: (change) => {
        if (change && change.now) state.clock.sync(change.now);
        renderClock();
        askForHours(true);
      },
    },
    onStatus(status) {
      if (status === "refused") showUnpaired();
      $("offline").hidden = status !== "offline";
    },
  });
}

// --- wiring -------------------------------------------------------------------------------------

$("lang-toggle").addEventListener("click", () => {
  i18n.setLang(i18n.next());
  touched();
});
$("back").addEventListener("click", showServices);
$("confirm").addEventListener("click", () => issue(false));
$("priority").addEventListener("click", choosePriority);
$("priority-back").addEventListener("click", () => {
  renderDocuments();
  show("documents");
  armIdle(DOCUMENTS_IDLE_MS, startOver);
});
$("priority-confirm").addEventListener("click", () => issue(true));
// A retry is the same decision again: the same service, priority or not, and the same key.
$("retry").addEventListener("click", () => issue(Boolean(state.pending?.priority)));
$("error-back").addEventListener("click", showServices);
$("done").addEventListener("click", startOver);
for (const event of ["pointerdown", "keydown"]) document.addEventListener(event, touched, { passive: true });

start();
