// A data table of the report page (the day's and the range's), from column specs. Text only, as
// textContent: cells never carry HTML from the data.

import { el } from "/static/js/dom.js";
import { duration as spelled } from "/static/js/format.js";

/**
 * Fill ``table``: columns [{key (header message) or heading (its text), num, value(row) -> text |
 * {text, tone, label}}], the first column as row headers; "nothing recorded" for no rows.
 */
export function fillTable(table, columns, rows, i18n) {
  const none = i18n.t("none");
  const head = el("thead");
  const headRow = el("tr");
  for (const column of columns) {
    const th = el("th", column.num ? "num" : "", column.heading ?? i18n.t(column.key));
    th.scope = "col";
    headRow.append(th);
  }
  head.append(headRow);
  const body = el("tbody");
  if (rows.length === 0) {
    const tr = el("tr");
    const td = el("td", "muted", i18n.t("t_empty"));
    td.colSpan = columns.length;
    tr.append(td);
    body.append(tr);
  }
  for (const row of rows) {
    const tr = el("tr");
    columns.forEach((column, index) => {
      const value = column.value(row);
      const cell = typeof value === "object" && value !== null ? value : { text: value };
      const tag = index === 0 ? "th" : "td";
      const td = el(tag, [column.num ? "num" : "", cell.tone || ""].join(" ").trim(), cell.text ?? none);
      if (tag === "th") td.scope = "row";
      if (cell.label) td.setAttribute("aria-label", cell.label);
      tr.append(td);
    });
    body.append(tr);
  }
  table.replaceChildren(head, body);
}

/** A share as "87.5%" ("100%", "0%"), or "—". */
export function percent(share, i18n) {
  return share == null ? i18n.t("none") : `${(share * 100).toFixed(share === 1 || share === 0 ? 0 : 1)}%`;
}

/** Seconds spelled for people ("4 分 30 秒" / "4 min 30 s"), or "—". */
export function duration(seconds, i18n) {
  return seconds == null ? i18n.t("none") : spelled(seconds, i18n.lang);
}

/** A service level's colour: good from 90%, amber from 75%, red below. */
export function levelTone(share) {
  if (share == null) return "";
  return share >= 0.9 ? "good" : share >= 0.75 ? "warn" : "bad";
}

/** ★★☆☆☆ for a table cell. */
export function stars(n) {
  const whole = Math.max(0, Math.min(5, Math.round(n)));
  return "★".repeat(whole) + "☆".repeat(5 - whole);
}

/** A headline tile (``.kpi``): its value, the note under it, and its tone (good, warn, bad or none). */
export function setTile(card, value, note = "", tone = "") {
  card.querySelector(".kpi-value").textContent = value;
  card.querySelector(".kpi-note").textContent = note;
  card.dataset.tone = tone;
}
