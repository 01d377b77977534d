// The branch's hours as screens show them. The server sends `hours` (GET /api/v1/branch and every
// state_snapshot): {state, opens_at, last_ticket_at, closes_at, next_opening}; the day's three times
// are today's, or the next opening day's once closed. A screen keeps what it last heard and works
// out the state as its (server) clock moves on, so a kiosk closes at 16:45 to the second without
// asking; when the times it holds run out (past a closing whose next opening it does not know, or
// past the next opening itself) the view says `stale` and the page asks for a fresh snapshot.

import { dayName, localDay, timeOfDay } from "./format.js";

export const HOURS_STATES = ["before_opening", "open", "last_tickets_issued", "closed"];

const WORDS = {
  state: {
    before_opening: { zh: "尚未营业", en: "Not open yet" },
    open: { zh: "营业中", en: "Open" },
    last_tickets_issued: { zh: "今日取号已结束", en: "No more tickets today" },
    closed: { zh: "已停止营业", en: "Closed" },
  },
  opensToday: { zh: "今天 {time} 开始营业", en: "Opens today at {time}" },
  nextOpening: { zh: "下次营业：{day} {time}", en: "Next opening: {day}, {time}" },
  closesAt: { zh: "{time} 停止营业", en: "Closes at {time}" },
  ticketsUntil: { zh: "{time} 停止取号", en: "Tickets until {time}" },
  noOpening: { zh: "暂停营业", en: "Closed until further notice" },
};

const ms = (iso) => (iso ? Date.parse(iso) : NaN);

/**
 * The branch at `nowMs`, from the `hours` last heard: {state, opensAt, lastTicketAt, closesAt,
 * nextOpening (ISO or null), stale}. `timeZone` tells a closed evening ("closed") from the morning
 * of an opening day ("before_opening"), as the server does.
 */
export function hoursAt(hours, nowMs, timeZone) {
  if (!hours || !hours.state) return null;
  const view = {
    state: hours.state, opensAt: hours.opens_at, lastTicketAt: hours.last_ticket_at,
    closesAt: hours.closes_at, nextOpening: hours.next_opening, stale: false,
  };
  const opens = ms(hours.opens_at);
  const last = ms(hours.last_ticket_at);
  const closes = ms(hours.closes_at);
  if ([opens, last, closes].some(Number.isNaN)) return view; // never opens again: nothing moves
  // The opening after the day held (the server names it, except before an opening, when it is that one).
  const following = ms(hours.next_opening) > closes ? hours.next_opening : null;
  const morningOf = (iso) => localDay(nowMs, timeZone) === localDay(iso, timeZone);
  if (nowMs < opens) {
    view.state = hours.state === "closed" && !morningOf(hours.opens_at) ? "closed" : "before_opening";
    view.nextOpening = hours.opens_at;
  } else if (nowMs < last || nowMs < closes) {
    view.state = nowMs < last ? "open" : "last_tickets_issued";
    view.nextOpening = following;
  } else {
    view.nextOpening = following;
    view.state = following && morningOf(following) ? "before_opening" : "closed";
    view.stale = !following || nowMs >= ms(following);
  }
  // A closed branch's times are of its next opening day: once that has come, ask for new ones.
  if (hours.state === "closed" && nowMs >= opens) view.stale = true;
  return view;
}

/** The word for a state: "营业中" / "Open". */
export function stateWord(state, lang) {
  return pick(WORDS.state[state], lang) || state;
}

/** When the branch opens next, for people: "今天 09:00 开始营业" / "Next opening: Tue 1 Dec, 09:00". */
export function openingText(view, lang, timeZone, nowMs) {
  if (!view || !view.nextOpening) return pick(WORDS.noOpening, lang);
  const time = timeOfDay(view.nextOpening, timeZone);
  if (localDay(view.nextOpening, timeZone) === localDay(nowMs, timeZone)) {
    return fill(WORDS.opensToday, lang, { time });
  }
  return fill(WORDS.nextOpening, lang, { day: dayName(view.nextOpening, lang, timeZone), time });
}

/** "16:45 停止取号" / "Tickets until 16:45". */
export function lastTicketText(view, lang, timeZone) {
  return view && view.lastTicketAt ? fill(WORDS.ticketsUntil, lang, { time: timeOfDay(view.lastTicketAt, timeZone) }) : "";
}

/** "17:00 停止营业" / "Closes at 17:00". */
export function closingText(view, lang, timeZone) {
  return view && view.closesAt ? fill(WORDS.closesAt, lang, { time: timeOfDay(view.closesAt, timeZone) }) : "";
}

/** One line for a staff screen's top bar: the state and what comes next ("营业中 · 16:45 停止取号"). */
export function summaryText(view, lang, timeZone, nowMs) {
  if (!view) return "";
  const parts = [stateWord(view.state, lang)];
  if (view.state === "open") parts.push(lastTicketText(view, lang, timeZone));
  else if (view.state === "last_tickets_issued") parts.push(closingText(view, lang, timeZone));
  else parts.push(openingText(view, lang, timeZone, nowMs));
  return parts.filter(Boolean).join(" · ");
}

function pick(text, lang) {
  return text ? text[lang] ?? text.en : "";
}

function fill(text, lang, params) {
  let out = pick(text, lang);
  for (const [name, value] of Object.entries(params)) out = out.replaceAll(`{${name}}`, String(value));
  return out;
}
