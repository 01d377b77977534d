"""The report over a range of days (issue 18): per day, per ISO week and in total — tickets, waits,
service level, outcomes (errors and redo: complaint kind 1), ratings, alerts per rule (and how many
the manager acted on), the complaints recorded per kind with how many an alert had warned of, and
the incidents per kind counted from the history (server/incident_history.py) with how many no
customer complained of. Each day is the daily report
(server/reports.py, from the real history); the weeks and the total add the days up, exactly where a
figure adds up (counts, the service level's met and counted, the ratings' sum), and say so where it
does not (the mean wait is the days' means weighted by customers called; a p90 is the worst day's).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from server.incident_history import complaint_about, incident_counts
from server.lobby.complaints import complaints_between
from server.report_loader import load_daily_report
from server.reports import _cell  # the daily CSV's cells: nested keys, percentages, formula-safe text
from server.runtime import Runtime
from server.vocabulary import ALERT_RULES, COMPLAINT_KINDS, INCIDENT_KINDS, OUTCOMES


def range_report(rt: Runtime, branch_id: int, first: date, last: date) -> dict[str, Any]:
    """The branch's figures from ``first`` to ``last`` (days in its time zone, both included)."""
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    dailies = [load_daily_report(rt, branch_id, day) for day in days]
    tz = rt.config_for(branch_id).tz
    recorded = complaints_between(rt, branch_id, first, last)
    by_day: dict[str, list[dict[str, Any]]] = {}
    for complaint in recorded:
        local = datetime.fromisoformat(complaint["recorded_at"]).astimezone(tz).date().isoformat()
        by_day.setdefault(local, []).append(complaint)
    # Each day's incidents, with the first complaint recorded about each (it may come the next day).
    for report in dailies:
        for incident in report["incidents"]:
            about = complaint_about(incident, recorded)
            incident.update(date=report["date"], complaint=about["id"] if about else None)
    day_rows = [{"date": report["date"], **_figures([report], by_day.get(report["date"], []))} for report in dailies]
    weeks: dict[str, list[int]] = {}
    for index, day in enumerate(days):
        year, week, _ = day.isocalendar()
        weeks.setdefault(f"{year}-W{week:02d}", []).append(index)
    week_rows = [
        {"week": name, "from": days[indexes[0]].isoformat(), "to": days[indexes[-1]].isoformat(),
         **_figures([dailies[i] for i in indexes], [c for i in indexes for c in by_day.get(days[i].isoformat(), [])])}
        for name, indexes in weeks.items()
    ]
    comments = [{**comment, "date": report["date"]} for report in dailies for comment in report["ratings"]["comments"]]
    return {
        "branch": dailies[0]["branch"],
        "from": first.isoformat(),
        "to": last.isoformat(),
        "timezone": str(tz.key),
        "generated_at": rt.clock.now().isoformat(),
        "total": _figures(dailies, recorded),
        "days": day_rows,
        "weeks": week_rows,
        "complaints": recorded,
        "incidents": [incident for report in dailies for incident in report["incidents"]],
        "rating_comments": comments,
    }


def _figures(reports: Sequence[dict[str, Any]], complaints: Sequence[dict[str, Any]]) -> dict[str, Any]:
    heads = [report["headline"] for report in reports]
    served = sum(h["served"] for h in heads)
    met = sum(h["service_level_met"] for h in heads)
    counted = sum(h["service_level_counted"] for h in heads)
    outcomes = {code: sum(h["outcomes"].get(code, 0) for h in heads) for code in OUTCOMES.codes}
    rated = [(h["ratings"]["count"], h["ratings"]["mean"]) for h in heads if h["ratings"]["count"]]
    ratings = sum(n for n, _ in rated)
    waited = [(h["service_level_counted"], h["avg_wait_s"]) for h in heads if h["avg_wait_s"] is not None]
    alerts: dict[str, dict[str, int]] = {}
    for report in reports:
        for row in report["alerts"]:
            into = alerts.setdefault(row["rule"], {"raised": 0, "critical": 0, "acknowledged": 0, "acted": 0})
            for key in into:
                into[key] += row[key]
    kinds = Counter(c["kind"] for c in complaints)
    incidents = [incident for report in reports for incident in report["incidents"]]
    warned = [c for c in complaints if c["warned"] is not None]
    return {
        "tickets": sum(h["tickets"] for h in heads),
        "served": served,
        "no_shows": sum(h["no_shows"] for h in heads),
        "cancelled": sum(h["cancelled"] for h in heads),
        "service_level": round(met / counted, 4) if counted else None,
        "service_level_met": met,
        "service_level_counted": counted,
        # The days' mean waits weighted by the customers each day called; the worst day's p90.
        "avg_wait_s": round(sum(n * w for n, w in waited) / sum(n for n, _ in waited), 1)
        if waited and sum(n for n, _ in waited) else None,
        "worst_day_p90_wait_s": max((h["p90_wait_s"] for h in heads if h["p90_wait_s"] is not None), default=None),
        "outcomes": outcomes,
        "error_rate": round((outcomes.get("redo", 0) + outcomes.get("error", 0)) / served, 4) if served else None,
        "ratings": {"count": ratings, "mean": round(sum(n * m for n, m in rated) / ratings, 2) if ratings else None},
        "alerts": alerts,
        "alerts_raised": sum(row["raised"] for row in alerts.values()),
        "alerts_acted": sum(row["acted"] for row in alerts.values()),
        "complaints": {code: kinds[code] for code in COMPLAINT_KINDS.codes},
        "complaints_total": len(complaints),
        # The headline of issue 18: how many complaints an alert had warned of, and how many of those
        # the manager had acted on (an instruction naming the card) before the customer complained.
        "complaints_warned": len(warned),
        "complaints_warned_share": round(len(warned) / len(complaints), 4) if complaints else None,
        "complaints_warned_acted": sum(1 for c in warned if c["warned"]["acted"]),
        # The situations that become complaints, counted from the history (server/incident_history.py):
        # how many an alert warned of, and how many no customer complained of (the other headline).
        "incidents": incident_counts(incidents),
        "incidents_total": len(incidents),
        "incidents_warned": sum(1 for i in incidents if i["warned"]),
        "incidents_no_complaint": sum(1 for i in incidents if i.get("complaint") is None),
    }


# --- CSV -----------------------------------------------------------------------------------------

def _figure_columns() -> list[tuple[str, str, str]]:
    """The columns of a day's or a week's row: (key, zh header, en header); "%" keys are shares."""
    return [
        ("tickets", "取号数", "Tickets"), ("served", "办结", "Served"), ("no_shows", "过号", "No-shows"),
        ("cancelled", "取消", "Cancelled"), ("service_level%", "服务水平(%)", "Service level (%)"),
        ("avg_wait_s", "平均等候(秒)", "Average wait (s)"),
        ("worst_day_p90_wait_s", "最差一天90%等候(秒)", "Worst day's 90th percentile wait (s)"),
        *[(f"outcomes.{code}", f"结果-{OUTCOMES.label(code)['zh']}", f"Outcome: {OUTCOMES.label(code)['en']}")
          for code in OUTCOMES.codes],
        ("error_rate%", "重办+差错率(%)", "Redo + error rate (%)"),
        ("ratings.count", "评价数", "Ratings"), ("ratings.mean", "平均评分", "Mean rating"),
        ("alerts_raised", "预警数", "Alerts raised"), ("alerts_acted", "预警已处置", "Alerts acted on"),
        ("complaints_total", "投诉数", "Complaints"),
        *[(f"complaints.{code}", f"投诉-{COMPLAINT_KINDS.label(code)['zh']}",
           f"Complaints: {COMPLAINT_KINDS.label(code)['en']}") for code in COMPLAINT_KINDS.codes],
        ("complaints_warned", "投诉前已有预警", "Complaints an alert warned of"),
        ("complaints_warned_share%", "投诉前已有预警(%)", "Complaints an alert warned of (%)"),
        ("complaints_warned_acted", "其中已处置", "Of which acted on"),
        *[(f"incidents.{code}", f"事件-{INCIDENT_KINDS.label(code)['zh']}",
           f"Incidents: {INCIDENT_KINDS.label(code)['en']}") for code in INCIDENT_KINDS.codes],
        ("incidents_total", "事件数", "Incidents"),
        ("incidents_warned", "事件前已有预警", "Incidents an alert warned of"),
        ("incidents_no_complaint", "未引发投诉的事件", "Incidents with no complaint"),
    ]


COMPLAINT_COLUMNS = [
    ("recorded_at", "时间", "Time"), ("kind_label", "类别", "Kind"), ("ticket.number", "号码", "Ticket"),
    ("counter", "窗口", "Counter"), ("subject", "事项", "Subject"), ("text", "内容", "Text"),
    ("recorded_by", "记录人", "Recorded by"), ("warned.rule", "此前预警", "Alert before it"),
    ("warned.lead_s", "提前(秒)", "Lead (s)"), ("warned.acknowledged", "已确认", "Acknowledged"),
    ("warned.acted", "已处置", "Acted on"),
]
INCIDENT_COLUMNS = [
    ("date", "日期", "Date"), ("kind_label", "事件", "Incident"), ("start", "开始", "Began"),
    ("at", "成为事件", "Became an incident"), ("end", "结束", "Ended"), ("ticket.number", "号码", "Ticket"),
    ("counter", "窗口", "Counter"), ("warned_by.rule", "此前预警", "Alert before it"),
    ("warned_by.lead_s", "提前(秒)", "Lead (s)"), ("complained", "有投诉", "Complained of"),
]
ALERT_COLUMNS = [
    ("rule_label", "预警规则", "Alert rule"), ("raised", "次数", "Raised"), ("critical", "严重", "Critical"),
    ("acknowledged", "已确认", "Acknowledged"), ("acted", "已处置", "Acted on"),
]
COMMENT_COLUMNS = [
    ("date", "日期", "Date"), ("number", "号码", "Ticket"), ("service", "业务", "Service"), ("stars", "评分", "Rating"),
    ("comment", "留言", "Comment"), ("counter", "窗口", "Counter"), ("teller", "柜员", "Teller"),
]
RANGE_SECTIONS = {
    "total": {"zh": "合计", "en": "Total"}, "days": {"zh": "按日", "en": "By day"},
    "weeks": {"zh": "按周", "en": "By week"}, "complaints": {"zh": "投诉", "en": "Complaints"},
    "incidents": {"zh": "事件", "en": "Incidents"}, "alerts": {"zh": "预警(合计)", "en": "Alerts by rule (total)"},
    "comments": {"zh": "评价留言", "en": "Rating comments"},
}
RANGE_TABLES = ("days", "weeks", "complaints", "incidents", "alerts", "comments")


def range_csv(report: dict[str, Any], lang: str = "zh", table: str | None = None) -> str:
    """The range report as CSV for Excel: every table in sections (a title row, a header row, the rows,
    an empty row: the total, by day, by week, the complaints), or one ``table`` alone (days, weeks or
    complaints: a header row and the rows). Headers in ``lang``; durations in seconds, shares in
    percent. The caller adds the BOM."""
    en = lang == "en"
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    figures = _figure_columns()
    lead = {"days": [("date", "日期", "Date")], "weeks": [("week", "周", "Week"), ("from", "起", "From"),
                                                          ("to", "止", "To")]}
    complaints = [{**c, "kind_label": COMPLAINT_KINDS.label(c["kind"])[lang],
                   "warned": {**c["warned"], "acknowledged": _yes(c["warned"]["acknowledged"], en),
                              "acted": _yes(c["warned"]["acted"], en)} if c["warned"] else None}
                  for c in report["complaints"]]
    incidents = [{**i, "kind_label": INCIDENT_KINDS.label(i["kind"])[lang], "start": _local(i["start"], report),
                  "at": _local(i["at"], report), "end": _local(i["end"], report),
                  "complained": _yes(i["complaint"] is not None, en)} for i in report["incidents"]]
    alerts = [{**row, "rule_label": ALERT_RULES.label(rule)[lang] if rule in ALERT_RULES.codes else rule}
              for rule, row in report["total"]["alerts"].items()]
    tables = {"days": (lead["days"] + figures, report["days"]), "weeks": (lead["weeks"] + figures, report["weeks"]),
              "complaints": (COMPLAINT_COLUMNS, complaints), "incidents": (INCIDENT_COLUMNS, incidents),
              "alerts": (ALERT_COLUMNS, alerts), "comments": (COMMENT_COLUMNS, report["rating_comments"])}

    def rows(columns: list[tuple[str, str, str]], data: list[dict[str, Any]]) -> None:
        writer.writerow([en_h if en else zh_h for _, zh_h, en_h in columns])
        for row in data:
            writer.writerow([_cell(row, key, lang) for key, _, _ in columns])

    if table is not None:
        rows(*tables[table])
        return out.getvalue()
    name = report["branch"]["name"]
    branch = (name.get(lang) if isinstance(name, dict) else name) or report["branch"]["code"]
    writer.writerow([f"{'Callwise range report' if en else 'Callwise 区间报表'} · {branch}", report["from"],
                     report["to"], report["timezone"]])
    writer.writerow([])
    for key in ("total", *RANGE_TABLES):
        writer.writerow([RANGE_SECTIONS[key]["en" if en else "zh"]])
        if key == "total":
            rows(figures, [report["total"]])
        else:
            rows(*tables[key])
        writer.writerow([])
    return out.getvalue()


def _local(moment: str | None, report: dict[str, Any]) -> str:
    """An ISO time as the branch's local time of day (the row has its date)."""
    if moment is None:
        return ""
    return datetime.fromisoformat(moment).astimezone(ZoneInfo(report["timezone"])).strftime("%H:%M:%S")


def _yes(value: bool, en: bool) -> str:
    return ("yes" if value else "no") if en else ("是" if value else "否")
