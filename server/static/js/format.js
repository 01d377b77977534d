// Durations and times as people read them. A duration never looks like a time of day: "17:30"
// on a dashboard reads as half past five, so waits and ages are written out in words
// ("17 分 30 秒", "17 min 30 s"), and clock times ("14:05") are only ever times of day.

const UNITS = {
  zh: { h: "小时", m: "分", mOnly: "分钟", s: "秒", sep: " " },
  en: { h: "h", m: "min", mOnly: "min", s: "s", sep: " " },
};

function unitsOf(lang) {
  return UNITS[lang] || UNITS.en;
}

/**
 * A measured duration: 45 -> "45 秒" / "45 s"; 1050 -> "17 分 30 秒" / "17 min 30 s";
 * 1020 -> "17 分钟" / "17 min"; 3725 -> "1 小时 2 分" / "1 h 2 min" (no seconds past an hour).
 * `pad`: seconds always two digits under an hour ("4 分 05 秒"), for a timer that runs on screen
 * and should not jump about as it counts.
 */
export function duration(seconds, lang, { pad = false } = {}) {
  const u = unitsOf(lang);
  const total = Math.max(0, Math.floor(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h) return m ? `${h} ${u.h}${u.sep}${m} ${u.m}` : `${h} ${u.h}`;
  if (!m) return `${s} ${u.s}`;
  if (!s && !pad) return `${m} ${u.mOnly}`;
  return `${m} ${u.m}${u.sep}${pad ? String(s).padStart(2, "0") : s} ${u.s}`;
}

/** How long ago, to the minute: "刚刚" / "just now", "20 分钟前" / "20 min ago", "1 小时 5 分钟前" / "1 h 5 min ago". */
export function ago(seconds, lang) {
  const whole = Math.max(0, Math.floor(seconds / 60));
  if (whole === 0) return lang === "zh" ? "刚刚" : "just now";
  const words = wholeMinutes(whole, lang);
  return lang === "zh" ? `${words}前` : `${words} ago`;
}

/** Whole minutes in words: 20 -> "20 分钟" / "20 min"; 125 -> "2 小时 5 分钟" / "2 h 5 min". */
export function wholeMinutes(count, lang) {
  const zh = lang === "zh";
  const m = Math.max(0, Math.round(count));
  const h = Math.floor(m / 60);
  const rest = m % 60;
  if (!h) return zh ? `${m} 分钟` : `${m} min`;
  if (!rest) return zh ? `${h} 小时` : `${h} h`;
  return zh ? `${h} 小时 ${rest} 分钟` : `${h} h ${rest} min`;
}

/** A wait still to come, rounded up to the minute: "约 4 分钟" / "about 4 min", "约 1 小时 20 分钟" / "about 1 h 20 min". */
export function minutes(seconds, lang) {
  const m = Math.max(0, Math.ceil(seconds / 60));
  if (m === 0) return lang === "zh" ? "即将叫号" : "any moment";
  return lang === "zh" ? `约 ${wholeMinutes(m, lang)}` : `about ${wholeMinutes(m, lang)}`;
}

/** "14:05" in the branch's time zone. */
export function timeOfDay(iso, timeZone) {
  if (!iso) return "";
  return new Date(iso).toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", timeZone });
}

/** "2026-11-30 14:05" in the branch's time zone. */
export function dateTime(iso, timeZone) {
  if (!iso) return "";
  const date = new Date(iso);
  const day = date.toLocaleDateString("en-CA", { timeZone });
  return `${day} ${timeOfDay(iso, timeZone)}`;
}

/** "2026-11-30": the calendar day of a moment in the branch's time zone. */
export function localDay(msOrIso, timeZone) {
  return new Date(msOrIso).toLocaleDateString("en-CA", { timeZone });
}

/** A day named for people: "12月1日（周二）" / "Tue 1 Dec". */
export function dayName(iso, lang, timeZone) {
  const date = new Date(iso);
  if (lang === "zh") {
    const parts = Object.fromEntries(new Intl.DateTimeFormat("en-GB", {
      month: "numeric", day: "numeric", weekday: "short", timeZone,
    }).formatToParts(date).map((part) => [part.type, part.value]));
    const weekday = "日一二三四五六"[["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"].indexOf(parts.weekday)];
    return `${Number(parts.month)}月${Number(parts.day)}日（周${weekday}）`;
  }
  return date.toLocaleDateString("en-GB", { weekday: "short", day: "numeric", month: "short", timeZone })
    .replace(",", "");
}
