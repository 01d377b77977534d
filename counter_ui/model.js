// What the console may do in each counter state, which key does it, and how late a service is.
// Plain data and pure functions: the page asks them, the server still has the last word.

/**
 * Every action of the console. `states`: the counter states it applies in (as
 * server/queueing/machine.py allows); `keys`: KeyboardEvent.key values that trigger it (a numeric
 * keypad with Num Lock on; "," is the decimal key of some keypad layouts); `choose`: the action
 * needs a choice first (a service, a reason, a note, a confirmation); `confirm`: a second press of
 * the same key (or a second click) sends it; `url`: a path other than /counters/<n>/<path> (the
 * choice is the ticket's id). Actions without keys start from the screen (a row of the waiting
 * list). Keys of the lobby's own controls (answering an instruction, "told something different")
 * are in lobby.js LOBBY_KEYS.
 */
export const ACTIONS = {
  call: { path: "call-next", states: ["idle"], keys: ["+", "Enter"], label: "act_call" },
  callTicket: { path: "call", states: ["idle"], keys: [], label: "queue_call" },
  recall: { path: "recall", states: ["calling"], keys: [".", ","], label: "act_recall" },
  start: { path: "start", states: ["calling"], keys: ["0"], label: "act_start" },
  noShow: { path: "no-show", states: ["calling"], keys: ["-"], label: "act_no_show" },
  done: { path: "complete", outcome: "done", states: ["serving"], keys: ["1"], label: "complete_title" },
  redo: { path: "complete", outcome: "redo", confirm: true, states: ["serving"], keys: ["2"], label: "complete_title" },
  error: { path: "complete", outcome: "error", confirm: true, states: ["serving"], keys: ["3"], label: "complete_title" },
  transfer: { path: "transfer", choose: "transfer", states: ["calling", "serving"], keys: ["4"], label: "act_transfer" },
  help: { path: "request-help", choose: "help", states: ["calling", "serving"], keys: ["5"], label: "act_help" },
  hold: { path: "hold", choose: "hold", states: ["calling", "serving"], keys: ["h", "H"], label: "act_hold" },
  pause: { path: "pause", choose: "pause", states: ["idle"], keys: ["7"], label: "act_pause" },
  resume: { path: "resume", states: ["paused"], keys: ["8"], label: "act_resume" },
  close: { path: "close", choose: "close", states: ["idle", "paused"], keys: ["9"], label: "act_close" },
  undo: { path: "undo", states: ["idle"], keys: ["Backspace"], label: "act_undo" },
  returnTicket: {
    url: (id) => `/tickets/${id}/return`, states: ["idle", "calling", "serving", "paused"], keys: ["b", "B"],
    label: "came_back",
  },
};

/** The transfer dialog's key for "to a counter…" (digits 1-9 are the services' fixed keys). */
export const TO_A_COUNTER_KEY = "0";

const KEYPAD = {
  NumpadAdd: "+", NumpadSubtract: "-", NumpadDecimal: ".", NumpadComma: ",", NumpadEnter: "Enter",
  NumpadMultiply: "*", NumpadDivide: "/",
};

/**
 * The key a press stands for. Keypad keys count by their position, so they work with Num Lock
 * off too (where the keypad's 0 reports "Insert" and its 1 "End").
 */
export function keyOf(event) {
  const code = event.code || "";
  if (/^Numpad[0-9]$/.test(code)) return code.slice(6);
  return KEYPAD[code] || event.key;
}

/** The action a key stands for, or null. */
export function actionForKey(key) {
  for (const [name, action] of Object.entries(ACTIONS)) {
    if (action.keys.includes(key)) return name;
  }
  return null;
}

/**
 * Whether `name` applies to this counter view right now. `now`: the branch's time in milliseconds
 * (the no-show grace and the undo window depend on it); without it those two are not checked.
 */
export function isEnabled(name, counter, now) {
  if (!counter) return false;
  const action = ACTIONS[name];
  if (!action.states.includes(counter.state)) return false;
  // Asking twice changes nothing on the server; the button says it has been asked instead.
  if (name === "help" && counter.help_requested_at) return false;
  if (name === "noShow" && noShowWaitSeconds(counter, now) > 0) return false;
  if (name === "undo") return undoSecondsLeft(counter, now) > 0;
  return true;
}

/** Whole seconds until a no-show may be recorded for the counter's called ticket (0: it may). */
export function noShowWaitSeconds(counter, now) {
  const allowedAt = Date.parse(counter?.current_ticket?.no_show_allowed_at ?? "");
  if (!Number.isFinite(allowedAt) || now === undefined) return 0;
  return Math.max(0, Math.ceil((allowedAt - now) / 1000));
}

/** Whole seconds left to undo the counter's last complete or no-show (0: nothing to undo). */
export function undoSecondsLeft(counter, now) {
  const undo = counter?.undo;
  if (!undo) return 0;
  const until = Date.parse(undo.until ?? "");
  if (!Number.isFinite(until)) return 0;
  if (now === undefined) return 1;
  return Math.max(0, Math.ceil((until - now) / 1000));
}

/**
 * The transfer targets: every service of the branch with a key that is its position in the
 * branch's list (1-9), whatever the ticket's service is, so a key always means the same service;
 * the ticket's own service is listed, disabled, keeping its key.
 */
export function transferTargets(services, currentService) {
  return services.map((service, index) => ({
    code: service.code,
    service,
    key: index < 9 ? String(index + 1) : "",
    current: service.code === currentService,
  }));
}

/** Counters a ticket may be sent to: open ones (not closed) other than ours, by number; the key is
 * the counter's own number. */
export function counterTargets(counters, mine) {
  return counters
    .filter((counter) => counter.number !== mine && counter.state !== "closed")
    .sort((a, b) => a.number - b.number)
    .map((counter) => ({ number: counter.number, counter, key: counter.number <= 9 ? String(counter.number) : "" }));
}

/** The request body of an action, given the choice made for it (if any). */
export function bodyFor(name, choice) {
  const action = ACTIONS[name];
  if (action.outcome) return { outcome: action.outcome };
  if (action.choose === "transfer") {
    // {service?, counter?, note?}; a bare service code is a service.
    if (typeof choice === "string") return { service: choice };
    const body = {};
    if (choice.service) body.service = choice.service;
    if (choice.counter != null) body.counter = choice.counter;
    if (choice.note) body.note = choice.note;
    return body;
  }
  if (action.choose === "hold") return choice && choice.note ? { note: choice.note } : {};
  if (action.choose === "pause") return { reason: choice };
  if (action.choose === "help") return choice; // {reason, text?}
  if (name === "callTicket") return { ticket: choice };
  return undefined;
}

/** Amber from this share of the overrun line. */
export const NEAR_SHARE = 0.75;

/** The overrun line of a service in seconds: factor x its normal service time today, which is what
 * the service_overrun alert uses (the server's normal_service_s; expected minutes if absent). */
export function overrunLine(service, factor) {
  if (!service || !factor) return null;
  const normal = service.normal_service_s || (service.expected_minutes ? service.expected_minutes * 60 : 0);
  if (!normal) return null;
  return factor * normal;
}

/** "normal" | "near" | "over" for a service that has run `seconds` against `line`. */
export function timerLevel(seconds, line) {
  if (!line) return "normal";
  if (seconds >= line) return "over";
  if (seconds >= NEAR_SHARE * line) return "near";
  return "normal";
}

/** When the counter's current phase began, and which phase it is, for the on-screen timer. */
export function timerPhase(counter) {
  if (!counter) return null;
  const ticket = counter.current_ticket;
  if (counter.state === "serving" && ticket) return { phase: "serving", since: ticket.served_at || counter.state_since };
  if (counter.state === "calling" && ticket) return { phase: "calling", since: ticket.called_at || counter.state_since };
  if (counter.state === "idle" || counter.state === "paused") return { phase: counter.state, since: counter.state_since };
  return null;
}

/** Whether a key press happened while typing, where it must keep its ordinary meaning. */
export function isTyping(target) {
  if (!target || !target.tagName) return false;
  if (target.isContentEditable) return true;
  return ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName);
}
