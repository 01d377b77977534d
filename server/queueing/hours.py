"""A branch's hours: when it opens, stops issuing tickets and closes, on which days. Pure: the
config's times in, the state at a moment out (the kiosk refuses tickets outside them, every screen
shows them, tickets still waiting at closing are cancelled).

States, in a day's order: ``before_opening``, ``open`` (tickets issued), ``last_tickets_issued``
(from ``last_ticket_time``: the hall is served, nobody new comes in), ``closed`` (after closing,
and all day on a day the branch does not open). A closed state names the next opening.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
STATES = ("before_opening", "open", "last_tickets_issued", "closed")
LOOK_AHEAD_DAYS = 400  # how far to look for the next opening (a year of holidays and closed days)
# A customer who will likely not be served today must hear it at least this long before closing
# (at the kiosk, or on their phone and the lobby screen while waiting): later counts as not told.
LATE_NOTICE_S = 900


def told_in_time(fits_before_close: bool | None, late_warned_at: datetime | None, closes_at: datetime) -> bool:
    """Whether a ticket had been told it might not be served today: at the kiosk (issued with
    ``fits_before_close`` false), or while waiting at least LATE_NOTICE_S before ``closes_at``."""
    return fits_before_close is False or (
        late_warned_at is not None and late_warned_at <= closes_at - timedelta(seconds=LATE_NOTICE_S))


@dataclass(frozen=True)
class Hours:
    opening: time
    closing: time
    last_ticket: time
    open_days: frozenset[str]  # of WEEKDAYS
    closed_dates: frozenset[date]
    tz: ZoneInfo

    def opens_on(self, day: date) -> bool:
        """Whether the branch opens on ``day`` (its weekday is an open day and it is no holiday)."""
        return WEEKDAYS[day.weekday()] in self.open_days and day not in self.closed_dates

    def at(self, day: date, moment: time) -> datetime:
        """``moment`` of ``day`` in the branch's zone."""
        return datetime.combine(day, moment, tzinfo=self.tz)

    def day(self, day: date) -> tuple[datetime, datetime, datetime]:
        """Opening, last ticket and closing of ``day``."""
        return self.at(day, self.opening), self.at(day, self.last_ticket), self.at(day, self.closing)


@dataclass(frozen=True)
class HoursNow:
    """Where the branch stands at a moment: its state and the day it is about (today's, or the next
    opening's when closed), and its next opening from now. None only for a branch that never opens
    again."""

    state: str
    opens_at: datetime | None
    last_ticket_at: datetime | None
    closes_at: datetime | None
    next_opening: datetime | None

    @property
    def issuing(self) -> bool:
        """Whether a kiosk may issue a ticket now."""
        return self.state == "open"

    @property
    def serving(self) -> bool:
        """Whether the branch is open for the customers inside (tickets issued or the last ones)."""
        return self.state in ("open", "last_tickets_issued")

    def as_dict(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        return {"state": self.state, "opens_at": iso(self.opens_at), "last_ticket_at": iso(self.last_ticket_at),
                "closes_at": iso(self.closes_at), "next_opening": iso(self.next_opening)}


def hours_now(hours: Hours, now: datetime) -> HoursNow:
    """The state at ``now`` (see the module docstring)."""
    today = now.astimezone(hours.tz).date()
    following = _next_open_day(hours, today)
    after = hours.at(following, hours.opening) if following is not None else None
    if hours.opens_on(today):
        opening, last_ticket, closing = hours.day(today)
        if now < opening:
            return HoursNow("before_opening", opening, last_ticket, closing, opening)
        if now < last_ticket:
            return HoursNow("open", opening, last_ticket, closing, after)
        if now < closing:
            return HoursNow("last_tickets_issued", opening, last_ticket, closing, after)
    if following is None:
        return HoursNow("closed", None, None, None, None)
    return HoursNow("closed", *hours.day(following), after)


def _next_open_day(hours: Hours, today: date) -> date | None:
    for ahead in range(1, LOOK_AHEAD_DAYS + 1):
        day = today + timedelta(days=ahead)
        if hours.opens_on(day):
            return day
    return None


def closed_message(state: HoursNow) -> dict[str, str]:
    """Why no ticket can be taken now, naming the next opening, in both languages."""
    when = state.next_opening
    if when is None:
        return {"zh": "本网点暂停营业。", "en": "The branch is closed."}
    clock = when.strftime("%H:%M")
    if state.state == "before_opening":
        return {"zh": f"本网点{clock}开始营业，届时即可取号。",
                "en": f"The branch opens at {clock}; tickets from then."}
    weekday_zh = "一二三四五六日"[when.weekday()]
    next_zh = f"下次营业：{when.month}月{when.day}日（周{weekday_zh}）{clock}"
    next_en = f"Next opening: {when.strftime('%a')} {when.day} {when.strftime('%b')}, {clock}"
    if state.state == "last_tickets_issued":
        return {"zh": f"今日取号已结束。{next_zh}。", "en": f"No more tickets today. {next_en}."}
    return {"zh": f"本网点已停止营业。{next_zh}。", "en": f"The branch is closed. {next_en}."}
