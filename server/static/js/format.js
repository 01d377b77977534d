// Durations and times as people read them.

/** 75 -> "1:15"; 3725 -> "1:02:05". */
export function clockDuration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

/** A wait in whole minutes, rounded up, in the given language: "约 4 分钟" / "about 4 min". */
export function minutes(seconds, lang) {
  const m = Math.max(0, Math.ceil(seconds / 60));
  if (m === 0) return lang === "zh" ? "即将叫号" : "any moment";
  return lang === "zh" ? `约 ${m} 分钟` : `about ${m} min`;
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
