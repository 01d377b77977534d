"""Ticket numbers and business days."""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo


def business_day(now: datetime, tz: ZoneInfo) -> date:
    """The branch's calendar day at ``now`` (numbering restarts each day in the branch's time zone)."""
    return now.astimezone(tz).date()


def day_start_utc(day: date, tz: ZoneInfo) -> datetime:
    """Midnight of ``day`` in the branch's zone, as UTC."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(timezone.utc)


def format_number(service_code: str, sequence: int) -> str:
    """``A`` and 7 -> ``A007``; past 999 the number simply grows (``A1000``)."""
    return f"{service_code}{sequence:03d}"
