"""The report over a range of days (issue 18): per day, per ISO week and in total — tickets, waits,
service level, outcomes (errors and redo: complaint kind 1), ratings, alerts per rule, and the
complaints recorded per kind with how many an alert had warned of. Each day is the daily report
(server/reports.py, from the real history); the weeks and the total add the days up, exactly where a
figure adds up (counts, the service level's met and counted, the ratings' sum), and say so where it
does not (the mean wait is the days' means weighted by customers called; a p90 is the worst day's).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from server.lobby.complaints import complaints_between
from server.report_loader import load_daily_report
from server.runtime import Runtime
from server.vocabulary import COMPLAINT_KINDS, OUTCOMES


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
            into = alerts.setdefault(row["rule"], {"raised": 0, "critical": 0, "acknowledged": 0})
            for key in into:
                into[key] += row[key]
    kinds = Counter(c["kind"] for c in complaints)
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
        "complaints": {code: kinds[code] for code in COMPLAINT_KINDS.codes},
        "complaints_total": len(complaints),
        # The headline of issue 18: how many complaints an alert had warned of, and how many of those
        # the manager had acted on (an instruction naming the card) before the customer complained.
        "complaints_warned": len(warned),
        "complaints_warned_share": round(len(warned) / len(complaints), 4) if complaints else None,
        "complaints_warned_acted": sum(1 for c in warned if c["warned"]["acted"]),
    }
