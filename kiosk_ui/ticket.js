// The customer's phone page for one ticket, opened from the QR code on the paper ticket.
//
// It knows one ticket (its token is in the address) and nothing else about anybody: the server
// sends this page its own ticket and, for the queue as a whole, counts only. When the counts move,
// the page asks again for its own ticket to learn its new place.

import { api, ApiError } from "/static/js/api.js";
import { createI18n } from "/static/js/i18n.js";
import { connectLive, serverClock } from "/static/js/live.js";
import { audioContext, playTones, unlockAudio } from "/static/js/audio.js";
import { minutes, timeOfDay } from "/static/js/format.js";
import { closingText, hoursAt, openingText, stateWord } from "/static/js/hours.js";

const REFRESH_COALESCE_MS = 400;   // a burst of queue changes costs one request
const REFRESH_EVERY_MS = 60_000;   // estimates drift with time even when nothing happens
const HOURS_ASK_EVERY_MS = 60_000; // past the hours held, ask GET /branch for new ones this often

const messages = {
  title: { zh: "我的排队号", en: "My ticket" },
  your_number: { zh: "您的号码", en: "Your number" },
  waiting_title: { zh: "排队等候中", en: "Waiting in the queue" },
  ahead_label: { zh: "前面还有", en: "Ahead of you" },
  ahead_n: { zh: "{n} 人", en: "{n} people" },
  ahead_one: { zh: "1 人", en: "1 person" },
  next: { zh: "您是下一位", en: "You are next" },
  wait_label: { zh: "预计等候", en: "Estimated wait" },
  wait_no_counter: { zh: "暂无窗口办理此业务", en: "no counter is open for this service now" },
  we_will_alert: { zh: "轮到您时，本页会变色并提醒您。您可以先在附近稍作休息。", en: "When it is your turn this page changes colour and alerts you. Feel free to wait nearby." },
  alerts_on: { zh: "开启声音和振动提醒", en: "Turn on sound and vibration" },
  alerts_ready: { zh: "提醒已开启", en: "Alerts are on" },
  called_kicker: { zh: "轮到您了", en: "It's your turn" },
  go_to_counter: { zh: "请到 {n} 号窗口", en: "Please go to counter {n}" },
  called_again: { zh: "再次叫号，请尽快前往", en: "Called again — please go now" },
  serving: { zh: "正在 {n} 号窗口为您办理", en: "Being served at counter {n}" },
  serving_text: { zh: "办理完成后，您可以在这里为本次服务评分。", en: "When you are done, you can rate the service here." },
  counter_n: { zh: "{n} 号窗口", en: "Counter {n}" },
  // Help: "waiting" until the lobby manager answers "on my way" (help_state of the ticket).
  help_title: { zh: "您的业务正在等待授权", en: "Your transaction is awaiting authorization" },
  help_text: {
    zh: "柜员已请大堂经理前来，请在窗口稍候。",
    en: "The teller has asked the lobby manager to come. Please stay at the counter.",
  },
  help_coming_title: { zh: "大堂经理正在赶来", en: "The manager is on the way" },
  help_coming_text: {
    zh: "请在窗口稍候，经理到后即继续为您办理。",
    en: "Please stay at the counter; your transaction continues as soon as the manager arrives.",
  },
  done_title: { zh: "业务已办结，感谢您的光临", en: "All done — thank you for visiting" },
  rate_question: { zh: "请为本次服务评分", en: "How was our service today?" },
  star_label: { zh: "{n} 星", en: "{n} star" },
  stars_label: { zh: "{n} 星", en: "{n} stars" },
  comment_label: { zh: "意见或建议（选填）", en: "Comment (optional)" },
  submit: { zh: "提交评价", en: "Submit" },
  rate_failed: { zh: "提交失败，请稍后再试。", en: "Could not send your rating. Please try again." },
  thanks: { zh: "感谢您的评价！", en: "Thank you for your feedback!" },
  thanks_already: { zh: "您已评价过，感谢您的反馈！", en: "You have already rated this visit — thank you!" },
  no_show_title: { zh: "您的号码已过号", en: "You missed your call" },
  no_show_text: { zh: "叫号时您未到窗口。如仍需办理，请重新取号或咨询大堂经理。", en: "Your number was called but you were not at the counter. If you still need help, please take a new ticket or ask the lobby staff." },
  cancelled_title: { zh: "此号码已取消", en: "This ticket was cancelled" },
  left_title: { zh: "您已取消排队", en: "You have left the queue" },
  left_text: {
    zh: "号码 {number} 已作废，不会再叫号。如仍需办理，请重新取号。",
    en: "Ticket {number} will not be called. If you still need us, please take a new ticket.",
  },
  priority: { zh: "优先服务", en: "Priority customer" },
  held_title: { zh: "您的业务已暂挂，稍后会再叫您", en: "Set aside — you will be called back" },
  held_at_counter: {
    zh: "已在 {n} 号窗口暂挂，稍后会再叫您",
    en: "Set aside at counter {n} — you will be called back",
  },
  held_text: {
    zh: "准备好后请在附近稍候，柜员会再次叫您的号码，本页也会提醒您。",
    en: "When you are ready, please wait nearby: the teller will call your number again, and this page will alert you.",
  },
  leave_ask: { zh: "取消排队", en: "Leave the queue" },
  leave_question: { zh: "确定要取消排队吗？", en: "Leave the queue?" },
  leave_text: {
    zh: "取消后号码 {number} 将作废，不能恢复。如仍需办理，需要重新取号。",
    en: "Ticket {number} will no longer be called, and this cannot be undone. To be served later you would take a new ticket.",
  },
  leave_keep: { zh: "继续排队", en: "Keep my place" },
  leave_yes: { zh: "确定取消", en: "Yes, leave the queue" },
  leave_too_late: { zh: "您的号码已被叫到，无法取消。", en: "Your number has already been called, so it cannot be cancelled." },
  leave_failed: { zh: "取消未成功，请稍后再试。", en: "That did not work. Please try again." },
  cancelled_text: { zh: "如仍需办理，请重新取号或咨询大堂经理。", en: "If you still need help, please take a new ticket or ask the lobby staff." },
  closed_cancelled_title: { zh: "营业已结束，此号码已取消", en: "We closed before your turn: this ticket was cancelled" },
  closed_cancelled_text: {
    zh: "本网点已停止营业，您的号码在营业结束前未被叫到，因此已自动取消。给您带来不便，敬请谅解。",
    en: "The branch closed before your number was called, so the ticket was cancelled when we closed. We are sorry for the wait.",
  },
  closed_cancelled_next: { zh: "如仍需办理，请在营业时间内重新取号。", en: "If you still need help, please take a new ticket when we are open." },
  late_title: { zh: "今天可能轮不到您", en: "You may not be served today" },
  late_text: {
    zh: "按目前的排队情况，轮到您时可能已过 {time} 的营业结束时间；届时仍未叫号的号码将被取消。",
    en: "With the queue as it is now, your turn may come after we close at {time}. Tickets not called by then are cancelled.",
  },
  please_bring: { zh: "请准备以下材料", en: "Please have ready" },
  live: { zh: "实时更新", en: "Live" },
  offline: { zh: "连接中断，正在重新连接…", en: "Connection lost — reconnecting…" },
  issued: { zh: "取号时间 {t}", en: "Issued {t}" },
  switch_to: { zh: "English", en: "中文" },
  switch_label: { zh: "Switch to English", en: "切换到中文" },
};

const STATES = ["waiting", "called", "held", "serving", "help", "done", "no-show", "cancelled"];
const LEAVABLE = ["waiting", "held"]; // the statuses from which the holder may leave the queue
const $ = (id) => document.getElementById(id);

const token = decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] || "");
const langKey = `callwise.phone.lang.${token}`;
const ratedKey = `callwise.phone.rated.${token}`;

const state = {
  ticket: null,
  branch: null,
  services: [],
  recall: false,
  stars: 0,
  rated: localStorage.getItem(ratedKey),  // "thanks" | "thanks_already" once rated here
  live: null,
  refreshTimer: null,
  online: false,
  clock: serverClock(),
  hoursAsked: 0,
  leaving: "no",      // the leave-the-queue control: "no", "asking" (confirmation shown), "sending"
  leaveError: null,   // a message key after a refused or failed cancel
};
let i18n = createI18n(messages);
let soundOn = false; // a tap has let the page make sound

// --- views --------------------------------------------------------------------------------------

function showView(name) {
  for (const view of ["loading", "unknown", "unreachable", "ticket"]) $(`view-${view}`).hidden = view !== name;
  $("lang-toggle").hidden = name !== "ticket" || i18n.languages.length < 2;
}

function serviceOf(ticket) {
  return state.services.find((s) => s.code === ticket.service) || null;
}

function stateOf(ticket) {
  switch (ticket.status) {
    case "waiting": return "waiting";
    case "called": return ticket.help_requested ? "help" : "called";
    case "held": return "held";
    case "serving": return ticket.help_requested ? "help" : "serving";
    case "done": return "done";
    case "no_show": return "no-show";
    case "cancelled": return "cancelled";
    default: return "waiting";
  }
}

function render() {
  const ticket = state.ticket;
  if (!ticket) return;
  const service = serviceOf(ticket);
  const current = stateOf(ticket);

  $("number").textContent = ticket.number;
  $("priority").hidden = !ticket.priority;
  $("priority").textContent = i18n.t("priority");
  $("service-name").textContent = service ? i18n.pick(service.name) : ticket.service;

  for (const name of STATES) $(`state-${name}`).hidden = name !== current;
  $("state").className = `card state state-${current}`;
  $("state").dataset.reason = current === "cancelled" ? ticket.cancel_reason || "" : "";
  document.body.dataset.state = current;

  if (current === "waiting") {
    $("ahead").textContent = ticket.position <= 1
      ? i18n.t("next")
      : ticket.position === 2 ? i18n.t("ahead_one") : i18n.t("ahead_n", { n: ticket.position - 1 });
    // No staffed counter serves the service: no number is promised, a sentence says why.
    const none = ticket.estimated_wait_s == null;
    $("wait").textContent = none ? i18n.t("wait_no_counter") : minutes(ticket.estimated_wait_s, i18n.lang);
    $("wait").classList.toggle("no-counter", none);
    const late = ticket.fits_before_close === false;
    $("late").hidden = !late;
    if (late) {
      const view = hoursView();
      const time = view && view.closesAt ? timeOfDay(view.closesAt, state.branch?.timezone) : "";
      $("late-title").textContent = i18n.t("late_title");
      $("late-text").textContent = i18n.t("late_text", { time });
    }
    $("alerts-on").hidden = soundOn;
    $("alerts-ready").hidden = !soundOn;
  }
  if (current === "called") {
    $("called-text").textContent = i18n.t("go_to_counter", { n: ticket.counter });
    $("called-recall").hidden = !state.recall;
    // The call also in the other language, for whoever is with the customer.
    const other = i18n.languages.find((lang) => lang !== i18n.lang && messages.go_to_counter[lang]);
    $("called-other").textContent = other ? i18n.t("go_to_counter", { n: ticket.counter }, other) : "";
    $("called-other").lang = other === "zh" ? "zh-CN" : other || "";
  }
  if (current === "held") {
    $("held-title").textContent = ticket.counter
      ? i18n.t("held_at_counter", { n: ticket.counter }) : i18n.t("held_title");
  }
  if (current === "serving") $("serving-text").textContent = i18n.t("serving", { n: ticket.counter });
  if (current === "help") {
    $("help-counter").textContent = ticket.counter ? i18n.t("counter_n", { n: ticket.counter }) : "";
    const coming = ticket.help_state === "on_my_way";
    $("help-title").textContent = i18n.t(coming ? "help_coming_title" : "help_title");
    $("help-text").textContent = i18n.t(coming ? "help_coming_text" : "help_text");
    $("state-help").dataset.help = coming ? "on_my_way" : "waiting";
  }
  if (current === "done") renderRating();
  if (current === "cancelled") renderCancelled(ticket);

  // What to bring matters until the customer is at the counter.
  const documents = service ? service.documents || [] : [];
  const notes = service ? i18n.pick(service.notes) : "";
  // Set aside, the customer may be fetching one of them.
  const showDocuments = ["waiting", "called", "held"].includes(current) && (documents.length > 0 || notes);
  $("documents").hidden = !showDocuments;
  if (showDocuments) {
    const list = $("document-list");
    list.replaceChildren();
    for (const documentName of documents) {
      const item = document.createElement("li");
      item.textContent = i18n.pick(documentName);
      list.append(item);
    }
    $("notes").hidden = !notes;
    $("notes").textContent = notes;
  }

  renderLeave();

  $("issued").textContent = ticket.issued_at
    ? i18n.t("issued", { t: timeOfDay(ticket.issued_at, state.branch?.timezone) })
    : "";
  renderLive();
  renderHours();
  const title = current === "called" ? $("called-text").textContent : `${i18n.t("title")} ${ticket.number}`;
  document.title = `${title} · Callwise`;
}

function renderLive() {
  $("live-dot").classList.toggle("online", state.online);
  $("live-text").textContent = i18n.t(state.online ? "live" : "offline");
}

/** Cancelled: by the holder ("customer"), at closing ("branch_closed", which says so and why), or otherwise. */
function renderCancelled(ticket) {
  const closing = ticket.cancel_reason === "branch_closed";
  const left = ticket.cancel_reason === "customer";
  $("state-cancelled").dataset.reason = ticket.cancel_reason || "";
  $("cancelled-title").textContent = i18n.t(closing ? "closed_cancelled_title" : left ? "left_title" : "cancelled_title");
  $("cancelled-text").textContent = left
    ? i18n.t("left_text", { number: ticket.number })
    : i18n.t(closing ? "closed_cancelled_text" : "cancelled_text");
  const next = $("cancelled-next");
  next.hidden = !closing;
  if (closing) {
    const view = hoursView();
    const opening = view ? openingText(view, i18n.lang, state.branch?.timezone, state.clock.now()) : "";
    next.textContent = [opening, i18n.t("closed_cancelled_next")].filter(Boolean).join(i18n.lang === "zh" ? "。" : ". ");
  }
}

// --- hours --------------------------------------------------------------------------------------

function hoursView() {
  return hoursAt(state.branch?.hours, state.clock.now(), state.branch?.timezone);
}

/** The branch now, for the customer: "营业中 · 17:00 停止营业" / "Closed · Next opening: Tue 1 Dec, 09:00". */
function renderHours() {
  const view = hoursView();
  const line = $("hours");
  line.hidden = !view;
  if (!view) return;
  const zone = state.branch?.timezone;
  // A ticket cancelled at closing names the next opening in its own message: not twice.
  const told = state.ticket?.status === "cancelled" && state.ticket?.cancel_reason === "branch_closed";
  const next = ["open", "last_tickets_issued"].includes(view.state)
    ? closingText(view, i18n.lang, zone) : told ? "" : openingText(view, i18n.lang, zone, state.clock.now());
  line.textContent = [stateWord(view.state, i18n.lang), next].filter(Boolean).join(" · ");
  line.dataset.hours = view.state;
  document.body.dataset.hours = view.state;
  if (view.stale) askForHours();
}

/** New hours from GET /branch: at once when the clock jumped, else at most once a minute. */
function askForHours(now = false) {
  if (!now && Date.now() - state.hoursAsked < HOURS_ASK_EVERY_MS) return;
  state.hoursAsked = Date.now();
  api("/branch").then((branch) => {
    if (!branch) return;
    state.branch = branch;
    if (branch.now) state.clock.sync(branch.now);
    render();
  }).catch(() => {});
}

// --- leaving the queue ----------------------------------------------------------------------------

/** The button while the ticket may still leave the queue; the question once it was tapped. */
function renderLeave() {
  const ticket = state.ticket;
  const open = Boolean(ticket) && LEAVABLE.includes(ticket.status);
  if (!open && state.leaving !== "sending") state.leaving = "no";
  // "Already called" stays beside the call it explains, and goes with it.
  if (!open && ticket && ticket.status !== "called") state.leaveError = null;
  const leave = $("leave");
  leave.hidden = !open && !state.leaveError;
  leave.dataset.step = state.leaving;
  $("leave-ask").hidden = !open || state.leaving !== "no";
  $("leave-confirm").hidden = !open || state.leaving === "no";
  $("leave-text").textContent = ticket ? i18n.t("leave_text", { number: ticket.number }) : "";
  for (const id of ["leave-yes", "leave-keep"]) $(id).disabled = state.leaving === "sending";
  $("leave-error").hidden = !state.leaveError;
  $("leave-error").textContent = state.leaveError ? i18n.t(state.leaveError) : "";
}

function askToLeave() {
  state.leaving = "asking";
  state.leaveError = null;
  renderLeave();
  $("leave-question").focus();
}

function keepPlace() {
  state.leaving = "no";
  renderLeave();
  $("leave-ask").focus();
}

async function leaveQueue() {
  if (state.leaving !== "asking") return;
  state.leaving = "sending";
  renderLeave();
  let ticket = null;
  try {
    ticket = await api(`/tickets/${encodeURIComponent(token)}/cancel`, { method: "POST" });
  } catch (error) {
    // Called (or finished) in the meantime: the ticket as it is now says what happened instead.
    const tooLate = error instanceof ApiError && error.code === "not_waiting";
    state.leaveError = tooLate ? "leave_too_late" : "leave_failed";
    state.leaving = tooLate ? "no" : "asking";
    if (tooLate && state.live) state.live.refresh();
    render();
    return;
  }
  state.leaving = "no";
  state.leaveError = null;
  setTicket(ticket);
  window.scrollTo(0, 0);
}

// --- rating -------------------------------------------------------------------------------------

function renderRating() {
  const rated = state.rated || (state.ticket.rating != null ? "thanks_already" : null);
  $("rating").hidden = Boolean(rated);
  $("rated").hidden = !rated;
  if (rated) {
    $("rated").textContent = i18n.t(rated);
    return;
  }
  const stars = $("stars");
  if (!stars.childElementCount) {
    for (let n = 1; n <= 5; n += 1) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "star";
      button.dataset.stars = String(n);
      button.addEventListener("click", () => chooseStars(n));
      stars.append(button);
    }
  }
  for (const button of stars.children) {
    const n = Number(button.dataset.stars);
    button.setAttribute("aria-label", i18n.t(n === 1 ? "star_label" : "stars_label", { n }));
    button.setAttribute("aria-pressed", String(n === state.stars));
    button.classList.toggle("lit", n <= state.stars);
    button.textContent = n <= state.stars ? "★" : "☆";
  }
  $("rate-submit").disabled = state.stars === 0;
}

function chooseStars(n) {
  state.stars = n;
  renderRating();
}

async function submitRating(event) {
  event.preventDefault();
  if (!state.stars) return;
  $("rate-submit").disabled = true;
  $("rate-error").hidden = true;
  const comment = $("comment").value.trim();
  try {
    await api(`/tickets/${encodeURIComponent(token)}/rating`, {
      body: comment ? { stars: state.stars, comment } : { stars: state.stars },
    });
    state.rated = "thanks";
  } catch (error) {
    if (error instanceof ApiError && error.code === "already_rated") {
      state.rated = "thanks_already";
    } else {
      $("rate-error").textContent = i18n.t("rate_failed");
      $("rate-error").hidden = false;
      $("rate-submit").disabled = false;
      return;
    }
  }
  localStorage.setItem(ratedKey, state.rated);
  renderRating();
  $("rated").focus();
}

// --- being called: vibration and a beep, where the browser allows -----------------------------

/** From a tap: browsers let a page make sound only after one (and the page asks no earlier). */
function enableSound() {
  unlockAudio();
  soundOn = audioContext() !== null;
}

function beep() {
  // Two soft tones, like a doorbell: noticeable without startling anyone in the hall.
  if (soundOn) playTones([[0, 880], [0.28, 660]], { ifRunning: true });
}

function alertCustomer() {
  // Without a tap first, Chromium refuses vibrate() and says so in the console: do not ask then.
  if (navigator.vibrate && navigator.userActivation && navigator.userActivation.hasBeenActive) {
    navigator.vibrate([300, 120, 300, 120, 600]);
  }
  beep();
}

// --- live ---------------------------------------------------------------------------------------

function setTicket(ticket) {
  if (!ticket || (state.ticket && ticket.id !== state.ticket.id)) return;
  const before = state.ticket;
  state.ticket = { ...(before || {}), ...ticket };
  if (ticket.status !== "called") state.recall = false;
  if (!before || before.service !== ticket.service) ensureServices();
  render();
}

const FINAL = ["done", "no_show", "cancelled"];

function refreshSoon() {
  // A finished ticket will not move again: a busy hall's queue changes need not reach it.
  if (state.refreshTimer || (state.ticket && FINAL.includes(state.ticket.status))) return;
  state.refreshTimer = setTimeout(() => {
    state.refreshTimer = null;
    if (state.live) state.live.refresh();
  }, REFRESH_COALESCE_MS);
}

function onCalled(call) {
  if (!state.ticket || call.number !== state.ticket.number) return;
  state.recall = Boolean(call.recall);
  setTicket({ ...state.ticket, status: "called", counter: call.counter, position: 0 });
  alertCustomer();
  refreshSoon();
}

let servicesAsked = null;
/** Names and documents of services (a transfer may move the ticket to one not seen yet). */
function ensureServices() {
  const ticket = state.ticket;
  if (!ticket || serviceOf(ticket) || servicesAsked) return;
  servicesAsked = api("/services")
    .then((services) => { state.services = services; render(); })
    .catch(() => {})
    .finally(() => { servicesAsked = null; });
}

function connect() {
  state.live = connectLive({
    auth: { ticket: token },
    ownEvents: ["ticket_changed", "ticket_called"],
    onSnapshot(snapshot) {
      if (snapshot && snapshot.now) state.clock.sync(snapshot.now);
      if (snapshot && snapshot.ticket) setTicket(snapshot.ticket);
    },
    on: {
      ticket_changed: setTicket,
      ticket_called: onCalled,
      queue_changed: refreshSoon,
      // A manual clock jumped (tests, demos): the hours may have moved on.
      clock_changed: (change) => {
        if (change && change.now) state.clock.sync(change.now);
        askForHours(true);
      },
    },
    onStatus(status) {
      state.online = status === "online";
      renderLive();
    },
  });
}

// --- language -----------------------------------------------------------------------------------

function renderLanguageToggle() {
  i18n.labelToggle($("lang-toggle"));
}

function renderBranch() {
  $("branch-name").textContent = i18n.pick(state.branch?.name) || "Callwise";
}

// --- start --------------------------------------------------------------------------------------

async function start() {
  if (!token) {
    showView("unknown");
    return;
  }
  let ticket;
  try {
    ticket = await api(`/tickets/${encodeURIComponent(token)}`);
  } catch (error) {
    showView(error instanceof ApiError && error.status === 404 ? "unknown" : "unreachable");
    return;
  }
  const [branch, services] = await Promise.all([
    api("/branch").catch(() => null),
    api("/services").catch(() => []),
  ]);
  state.branch = branch;
  if (branch && branch.now) state.clock.sync(branch.now);
  state.services = services;
  const languages = branch && branch.languages && branch.languages.length ? branch.languages : ["zh", "en"];
  i18n = createI18n(messages, languages);
  const chosen = localStorage.getItem(langKey) || ticket.lang;
  if (chosen && languages.includes(chosen)) i18n.setLang(chosen);
  i18n.onChange((lang) => {
    localStorage.setItem(langKey, lang);
    renderLanguageToggle();
    renderBranch();
    render();
  });
  i18n.apply();
  renderLanguageToggle();
  renderBranch();
  showView("ticket");
  setTicket(ticket);
  connect();
  setInterval(() => { if (!document.hidden) refreshSoon(); }, REFRESH_EVERY_MS);
  setInterval(renderHours, 5000); // the state moves with the clock (opening, last tickets, closing)
}

$("lang-toggle").addEventListener("click", () => i18n.setLang(i18n.next()));
$("reload").addEventListener("click", () => location.reload());
$("rating").addEventListener("submit", submitRating);
$("leave-ask").addEventListener("click", askToLeave);
$("leave-keep").addEventListener("click", keepPlace);
$("leave-yes").addEventListener("click", leaveQueue);
$("alerts-on").addEventListener("click", () => {
  enableSound();
  beep();
  if (navigator.vibrate) navigator.vibrate(80);
  render();
});
// Any tap makes sound possible later; a phone that comes back from sleep catches up at once.
document.addEventListener("pointerdown", enableSound, { once: true });
document.addEventListener("visibilitychange", () => { if (!document.hidden) refreshSoon(); });

start();
