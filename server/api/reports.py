"""The daily report (JSON and CSV) for managers. The rows are loaded by server/report_loader.py and
the figures computed in server/reports.py; this module parses the request and serves the answer."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from flask import Response, jsonify, request
from flask.typing import ResponseReturnValue

from server.api import bp
from server.api.common import branch_id_for, require_manager, runtime
from server.errors import Invalid
from server.report_loader import load_daily_report
from server.reports import report_csv
from server.runtime import Runtime
from server.vocabulary import LANGUAGES

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@bp.get("/reports/daily")
def daily() -> ResponseReturnValue:
    """The day's figures (``?date=YYYY-MM-DD``, default today in the branch's time zone). Managers
    and admins only; 422 for a malformed date."""
    actor = require_manager()
    return jsonify(_report(runtime(), branch_id_for(actor)))


@bp.get("/reports/daily.csv")
def daily_csv() -> ResponseReturnValue:
    """The same report as a CSV file in sections (UTF-8 with a BOM, so Excel reads Chinese);
    ``?lang=zh|en`` picks the headers' language (default: the branch's first)."""
    actor = require_manager()
    rt = runtime()
    branch_id = branch_id_for(actor)
    lang = request.args.get("lang") or rt.config_for(branch_id).branch.languages[0]
    if lang not in LANGUAGES:
        raise Invalid(f"lang is one of {', '.join(LANGUAGES)}", code="bad_lang")
    report = _report(rt, branch_id)
    name = report["branch"]["name"]
    text = report_csv(report, lang, name.get(lang) or report["branch"]["code"])
    filename = f"callwise-{report['branch']['code']}-{report['date']}.csv"
    return Response(
        text.encode("utf-8-sig"),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


def parse_day(value: str | None, today: date) -> date:
    """``YYYY-MM-DD`` (or today when absent); :class:`Invalid` otherwise."""
    if value is None or value == "":
        return today
    if not DATE.match(value):
        raise Invalid("date is YYYY-MM-DD, e.g. 2026-11-30", code="bad_date")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise Invalid(f"{value} is not a date of the calendar", code="bad_date") from None
    if not 1970 <= day.year <= 9998:
        raise Invalid("date is out of range", code="bad_date")
    return day


def _report(rt: Runtime, branch_id: int) -> dict[str, Any]:
    """The report of the day ``?date=`` names (default: today in the branch's time zone)."""
    requested = request.args.get("date")
    today = rt.clock.now().astimezone(rt.config_for(branch_id).tz).date()
    return load_daily_report(rt, branch_id, parse_day(requested, today))
