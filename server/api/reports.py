"""The daily report (JSON and CSV) for managers. The rows are loaded by server/report_loader.py and
the figures computed in server/reports.py; this module parses the request and serves the answer."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response, jsonify, request
from flask.typing import ResponseReturnValue

from server.api import bp
from server.api.common import MAX_REPORT_DAYS, branch_id_for, check_range, parse_day, require_manager, runtime
from server.errors import Invalid
from server.range_report import RANGE_TABLES, range_csv, range_report
from server.report_loader import load_daily_report
from server.reports import ratings_csv, report_csv
from server.runtime import Runtime
from server.vocabulary import LANGUAGES


@bp.get("/reports/daily")
def daily() -> ResponseReturnValue:
    """The day's figures (``?date=YYYY-MM-DD``, default today in the branch's time zone). Managers
    and admins only; 422 for a malformed date."""
    actor = require_manager()
    return jsonify(_report(runtime(), branch_id_for(actor)))


@bp.get("/reports/daily.csv")
def daily_csv() -> ResponseReturnValue:
    """The same report as a CSV file in sections (UTF-8 with a BOM, so Excel reads Chinese);
    ``?lang=zh|en`` picks the headers' language (default: the branch's first); ``?table=ratings``
    gives only the ratings with their comments, as one plain table."""
    actor = require_manager()
    rt = runtime()
    branch_id = branch_id_for(actor)
    lang = _lang(rt, branch_id)
    table = request.args.get("table")
    if table not in (None, "ratings"):
        raise Invalid("table is ratings, or absent for the whole report", code="bad_table")
    report = _report(rt, branch_id)
    name = report["branch"]["name"]
    if table == "ratings":
        text = ratings_csv(report, lang)
        filename = f"callwise-{report['branch']['code']}-{report['date']}-ratings.csv"
    else:
        text = report_csv(report, lang, name.get(lang) or report["branch"]["code"])
        filename = f"callwise-{report['branch']['code']}-{report['date']}.csv"
    return _csv_file(text, filename)


@bp.get("/reports/range")
def range_() -> ResponseReturnValue:
    """Figures per day, per ISO week and in total over ``?from=DATE&to=DATE`` (both included, at most
    MAX_REPORT_DAYS + 1 days; default: today), with the complaints per kind and how many an alert had
    warned of. Managers and admins only; 422 for a malformed date or range."""
    actor = require_manager()
    rt = runtime()
    branch_id = branch_id_for(actor)
    return jsonify(range_report(rt, branch_id, *_range(rt, branch_id)))


@bp.get("/reports/range.csv")
def range_csv_() -> ResponseReturnValue:
    """The range report as CSV (UTF-8 with a BOM): every table in sections, or ``?table=`` one of
    RANGE_TABLES (days, weeks, complaints, incidents, alerts, comments) alone; ``?lang=zh|en``
    (default: the branch's first language)."""
    actor = require_manager()
    rt = runtime()
    branch_id = branch_id_for(actor)
    lang = _lang(rt, branch_id)
    table = request.args.get("table")
    if table is not None and table not in RANGE_TABLES:
        raise Invalid(f"table is one of {', '.join(RANGE_TABLES)}, or absent for every table", code="bad_table")
    report = range_report(rt, branch_id, *_range(rt, branch_id))
    suffix = f"-{table}" if table else ""
    filename = f"callwise-{report['branch']['code']}-{report['from']}-{report['to']}{suffix}.csv"
    return _csv_file(range_csv(report, lang, table), filename)


def _csv_file(text: str, filename: str) -> Response:
    """A CSV download for Excel: UTF-8 with a BOM, so that it reads Chinese."""
    return Response(
        text.encode("utf-8-sig"),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


def _lang(rt: Runtime, branch_id: int) -> str:
    """``?lang=`` (default: the branch's first language); 422 ``bad_lang`` for another."""
    lang = request.args.get("lang") or rt.config_for(branch_id).branch.languages[0]
    if lang not in LANGUAGES:
        raise Invalid(f"lang is one of {', '.join(LANGUAGES)}", code="bad_lang")
    return lang


def _range(rt: Runtime, branch_id: int) -> tuple[date, date]:
    """``?from=`` and ``?to=`` (default: today; ``to`` defaults to ``from``), at most MAX_REPORT_DAYS apart."""
    today = rt.clock.now().astimezone(rt.config_for(branch_id).tz).date()
    first = parse_day(request.args.get("from"), today)
    last = parse_day(request.args.get("to"), first if request.args.get("from") else today)
    check_range(first, last, MAX_REPORT_DAYS)
    return first, last


def _report(rt: Runtime, branch_id: int) -> dict[str, Any]:
    """The report of the day ``?date=`` names (default: today in the branch's time zone)."""
    requested = request.args.get("date")
    today = rt.clock.now().astimezone(rt.config_for(branch_id).tz).date()
    return load_daily_report(rt, branch_id, parse_day(requested, today))
