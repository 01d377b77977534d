"""The daily report: its definitions on small hand-made histories (the pure server/reports.py), then
through the API on both backends — an empty day, a scripted day with known answers, the CSV, and
who may read it."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from server.reports import (
    AlertRow,
    CounterRow,
    CounterStart,
    EventRow,
    ReportDay,
    ServiceRow,
    StaffRow,
    TicketRow,
    daily_report,
    percentile,
    report_csv,
)

TZ = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 30)
CASH = ServiceRow("A", {"zh": "现金存取", "en": "Cash"}, 600)
TRANSFERS = ServiceRow("B", {"zh": "转账汇款", "en": "Transfers"}, 900)
LIN = StaffRow(7, "lin", "Lin Wei")
MEI = StaffRow(8, "mei", "Mei Chen")
RULES = ("idle_counter", "long_pause", "short_queue_long_wait")


def at(clock: str) -> datetime:
    """'09:05' or '09:05:30' on the report's day, in the branch's zone."""
    return datetime.combine(DAY, time.fromisoformat(clock), tzinfo=TZ).astimezone(timezone.utc)


@dataclass
class Hall:
    """A branch day told the way the service layer logs it: each call adds the same ticket and
    counter events, so a test reads as what happened in the hall."""

    counters: list[CounterRow] = field(default_factory=lambda: [CounterRow(1, 1, ("A", "B")), CounterRow(2, 2, ("B",))])
    tickets: dict[int, dict[str, Any]] = field(default_factory=dict)
    events: list[EventRow] = field(default_factory=list)
    alerts: list[AlertRow] = field(default_factory=list)
    counter_state: dict[int, str] = field(default_factory=dict)
    staff_at: dict[int, int] = field(default_factory=dict)
    serving: dict[int, int] = field(default_factory=dict)

    # counters
    def _counter(self, number: int, action: str, to: str, when: str, staff: int | None = None, **data: Any) -> None:
        before = self.counter_state.get(number, "closed")
        self.counter_state[number] = to
        self.events.append(EventRow(at(when), "counter", number, action, before, to, staff, {"number": number, **data}))

    def open(self, number: int, who: StaffRow, when: str) -> None:
        self.staff_at[number] = who.id
        self._counter(number, "open", "idle", when, who.id)

    def pause(self, number: int, reason: str, when: str) -> None:
        self._counter(number, "pause", "paused", when, self.staff_at[number], reason=reason)

    def resume(self, number: int, when: str) -> None:
        self._counter(number, "resume", "idle", when, self.staff_at[number])

    def close(self, number: int, when: str) -> None:
        self._counter(number, "close", "closed", when, self.staff_at.pop(number))

    # tickets
    def issue(self, service: str, when: str) -> int:
        ticket_id = len(self.tickets) + 1
        number = f"{service}{sum(1 for t in self.tickets.values() if t['issued_service'] == service) + 1:03d}"
        self.tickets[ticket_id] = dict(id=ticket_id, number=number, service=service, issued_service=service,
                                       status="waiting", issued_at=at(when))
        self._ticket(ticket_id, "issue", None, "waiting", when, service=service)
        return ticket_id

    def _ticket(self, ticket_id: int, action: str, before: str | None, to: str, when: str, **data: Any) -> None:
        self.tickets[ticket_id]["status"] = to
        self.events.append(EventRow(at(when), "ticket", ticket_id, action, before, to, None, data or None))

    def call(self, ticket_id: int, number: int, when: str) -> None:
        ticket = self.tickets[ticket_id]
        ticket.update(called_at=at(when), staff_id=self.staff_at[number])
        self.serving[number] = ticket_id
        self._ticket(ticket_id, "call", "waiting", "called", when, counter=number)
        self._counter(number, "call_next", "calling", when, self.staff_at[number], ticket_id=ticket_id)

    def start(self, number: int, when: str) -> None:
        ticket_id = self.serving[number]
        self.tickets[ticket_id]["served_at"] = at(when)
        self._ticket(ticket_id, "start", "called", "serving", when, counter=number)
        self._counter(number, "start", "serving", when, self.staff_at[number])

    def complete(self, number: int, when: str, outcome: str = "done", rating: int | None = None) -> None:
        ticket_id = self.serving.pop(number)
        self.tickets[ticket_id].update(finished_at=at(when), outcome=outcome, rating=rating)
        self._ticket(ticket_id, "complete", "serving", "done", when, counter=number, outcome=outcome)
        self._counter(number, "complete", "idle", when, self.staff_at[number])

    def serve(self, ticket_id: int, number: int, called: str, started: str, finished: str, outcome: str = "done",
              rating: int | None = None) -> None:
        self.call(ticket_id, number, called)
        self.start(number, started)
        self.complete(number, finished, outcome, rating)

    def no_show(self, number: int, when: str) -> None:
        ticket_id = self.serving.pop(number)
        self.tickets[ticket_id]["finished_at"] = at(when)
        self._ticket(ticket_id, "no_show", "called", "no_show", when, counter=number)
        self._counter(number, "no_show", "idle", when, self.staff_at[number])

    def transfer(self, number: int, to_service: str, when: str) -> None:
        ticket_id = self.serving.pop(number)
        ticket = self.tickets[ticket_id]
        source = ticket["service"]
        before = ticket["status"]
        ticket.update(service=to_service, called_at=None, served_at=None, staff_id=None)
        self._ticket(ticket_id, "transfer", before, "waiting", when, counter=number, from_service=source,
                     to_service=to_service)
        self._counter(number, "transfer", "idle", when, self.staff_at[number])

    def cancel(self, ticket_id: int, when: str) -> None:
        self._ticket(ticket_id, "cancel", "waiting", "cancelled", when)

    def report(self, now: str, **options: Any) -> dict[str, Any]:
        return daily_report(
            ReportDay(DAY, TZ, at(now)),
            services=[CASH, TRANSFERS],
            counters=self.counters,
            staff=[LIN, MEI],
            tickets=[TicketRow(**t) for t in self.tickets.values()],
            events=self.events,
            alerts=self.alerts,
            rules=RULES,
            **options,
        )


def service(report: dict[str, Any], code: str) -> dict[str, Any]:
    return next(row for row in report["services"] if row["code"] == code)


def teller(report: dict[str, Any], username: str) -> dict[str, Any]:
    return next(row for row in report["tellers"] if row["username"] == username)


def counter(report: dict[str, Any], number: int) -> dict[str, Any]:
    return next(row for row in report["counters"] if row["number"] == number)


# --- definitions, on hand-made days --------------------------------------------------------------


def test_an_empty_day_has_every_service_and_rule_with_nothing_to_average():
    report = Hall().report(now="12:00")
    assert report["headline"]["tickets"] == 0
    assert report["headline"]["avg_wait_s"] is None and report["headline"]["service_level"] is None
    assert [row["code"] for row in report["services"]] == ["A", "B"]
    assert [row["rule"] for row in report["alerts"]] == list(RULES)
    assert report["tellers"] == []
    assert report["tickets_per_hour"]["hours"] == list(range(9, 17))


def test_wait_is_issue_to_call_and_the_90th_percentile_is_the_nearest_rank():
    hall = Hall()
    hall.open(1, LIN, "09:00")
    for minute in range(1, 11):  # ten customers waiting 1, 2, ... 10 minutes
        ticket = hall.issue("A", "09:00")
        hall.serve(ticket, 1, f"09:{minute:02d}", f"09:{minute:02d}", f"09:{minute:02d}:30")
    report = hall.report(now="10:00")
    cash = service(report, "A")
    assert (cash["called"], cash["avg_wait_s"], cash["p90_wait_s"], cash["max_wait_s"]) == (10, 330, 540, 600)
    assert (report["headline"]["avg_wait_s"], report["headline"]["p90_wait_s"]) == (330, 540)
    assert percentile([5, 1, 3], 0.9) == 5 and percentile([], 0.9) is None


def test_service_level_counts_a_no_show_by_its_call_and_a_wait_past_target_as_a_miss():
    hall = Hall()
    hall.open(1, LIN, "09:00")
    on_time = hall.issue("A", "09:00")
    no_show = hall.issue("A", "09:00")
    late = hall.issue("A", "09:00")
    hall.serve(on_time, 1, "09:05", "09:05", "09:06")  # 5 min: within the 10-minute target
    hall.call(no_show, 1, "09:08")  # 8 min, called in time: counts as within, though nobody came
    hall.no_show(1, "09:09")
    hall.serve(late, 1, "09:12", "09:12", "09:13")  # 12 min: a miss
    gave_up_late = hall.issue("A", "09:00")
    hall.cancel(gave_up_late, "09:20")  # left after 20 min: a miss
    gave_up_early = hall.issue("A", "09:30")
    hall.cancel(gave_up_early, "09:33")  # left after 3 min: not counted
    hall.issue("A", "09:00")  # still waiting at 09:40, 40 min: a miss
    hall.issue("A", "09:38")  # still waiting, 2 min: not yet counted
    cash = service(hall.report(now="09:40"), "A")
    assert (cash["service_level_met"], cash["service_level_counted"], cash["service_level"]) == (2, 5, 0.4)
    assert (cash["waiting"], cash["cancelled"], cash["no_shows"], cash["served"]) == (2, 2, 1, 2)
    assert cash["no_show_rate"] == round(1 / 3, 4)


def test_a_wait_equal_to_the_target_is_within_it():
    hall = Hall()
    hall.open(1, LIN, "09:00")
    ticket = hall.issue("A", "09:00")
    hall.call(ticket, 1, "09:10")
    assert service(hall.report(now="09:11"), "A")["service_level"] == 1.0


def test_a_transferred_ticket_waits_once_in_each_queue_and_counts_once_where_it_was_issued():
    hall = Hall()
    hall.open(1, LIN, "09:00")
    hall.open(2, MEI, "09:00")
    ticket = hall.issue("A", "09:00")
    hall.call(ticket, 1, "09:04")
    hall.start(1, "09:05")
    hall.transfer(1, "B", "09:06")
    hall.pause(2, "meeting", "09:00:30")
    hall.resume(2, "09:09")
    hall.serve(ticket, 2, "09:09", "09:10", "09:16")
    report = hall.report(now="09:30")
    cash, transfers = service(report, "A"), service(report, "B")
    assert (cash["tickets"], cash["called"], cash["avg_wait_s"], cash["served"]) == (1, 1, 240, 0)
    assert (transfers["tickets"], transfers["transferred_in"], transfers["called"], transfers["avg_wait_s"],
            transfers["served"]) == (0, 1, 1, 180, 1)
    assert report["headline"]["tickets"] == 1
    assert teller(report, "mei")["served"] == 1 and teller(report, "lin")["served"] == 0


def test_idle_time_counts_only_while_a_ticket_of_the_counters_own_services_waits():
    hall = Hall()
    hall.open(1, LIN, "09:00")  # serves A and B
    hall.open(2, MEI, "09:00")  # serves B only
    cash = hall.issue("A", "09:02")
    hall.call(cash, 1, "09:05")  # counter 1 idle 3 min with A waiting; counter 2 does not serve A
    hall.start(1, "09:05")
    transfer = hall.issue("B", "09:10")  # counter 2 idle with B waiting from 09:10
    hall.complete(1, "09:12")  # counter 1 free again with B waiting: 2 more minutes
    hall.call(transfer, 2, "09:14")  # counter 2: 4 minutes
    report = hall.report(now="09:30")
    assert (counter(report, 1)["idle_with_waiting_s"], counter(report, 2)["idle_with_waiting_s"]) == (300, 240)
    assert (teller(report, "lin")["idle_with_waiting_s"], teller(report, "mei")["idle_with_waiting_s"]) == (300, 240)
    assert report["headline"]["idle_with_waiting_s"] == 540
    assert teller(report, "lin")["signed_in_s"] == 1800


def test_a_paused_counter_is_not_idle_and_its_pauses_add_up_by_reason_with_the_running_one_up_to_now():
    hall = Hall()
    hall.open(1, LIN, "09:00")
    hall.issue("A", "09:55")
    hall.pause(1, "break", "10:00")
    hall.resume(1, "10:15")
    hall.pause(1, "cash_replenish", "10:20")
    hall.resume(1, "10:25")
    hall.pause(1, "break", "11:00")  # still on break at 11:30
    report = hall.report(now="11:30")
    pauses = {row["reason"]: row for row in report["pauses"]}
    assert (pauses["break"]["count"], pauses["break"]["total_s"], pauses["break"]["max_s"],
            pauses["break"]["ongoing"]) == (2, 2700, 1800, 1)
    assert (pauses["cash_replenish"]["count"], pauses["cash_replenish"]["total_s"]) == (1, 300)
    assert pauses["meeting"]["count"] == 0
    row = counter(report, 1)
    assert (row["paused_s"], row["pauses"], row["paused_by_reason_s"]["break"]) == (3000, 3, 2700)
    # the ticket waited from 09:55 on; the counter was idle 09:55-10:00, 10:15-10:20 and 10:25-11:00
    assert row["idle_with_waiting_s"] == 300 + 300 + 2100
    assert teller(report, "lin")["paused_s"] == 3000


def test_a_counter_left_open_overnight_starts_the_day_open_with_its_teller():
    hall = Hall()
    hall.issue("A", "00:10")
    hall.staff_at[1] = LIN.id
    hall.counter_state[1] = "idle"
    hall.close(1, "00:30")
    report = hall.report(now="01:00", counters_at_start={1: CounterStart("idle", LIN.id)})
    assert counter(report, 1)["signed_in_s"] == 1800
    assert teller(report, "lin")["idle_with_waiting_s"] == 1200


def test_outcomes_and_ratings_per_teller_show_who_makes_mistakes():
    hall = Hall()
    hall.open(1, LIN, "09:00")
    hall.open(2, MEI, "09:00")
    tickets = [hall.issue("B", "09:00") for _ in range(5)]
    hall.serve(tickets[0], 1, "09:00", "09:01", "09:05", "done", rating=5)
    hall.serve(tickets[1], 1, "09:05", "09:05", "09:07", "done", rating=4)
    hall.serve(tickets[2], 2, "09:00", "09:00", "09:10", "error", rating=1)
    hall.serve(tickets[3], 2, "09:10", "09:10", "09:20", "redo")
    hall.call(tickets[4], 1, "09:07")
    hall.no_show(1, "09:09")
    report = hall.report(now="10:00")
    lin, mei = teller(report, "lin"), teller(report, "mei")
    assert (lin["served"], lin["outcomes"], lin["error_rate"], lin["no_shows"]) == (
        2, {"done": 2, "redo": 0, "error": 0}, 0.0, 1)
    assert (mei["served"], mei["outcomes"], mei["error_rate"]) == (2, {"done": 0, "redo": 1, "error": 1}, 1.0)
    assert (lin["avg_service_s"], mei["avg_service_s"]) == (180, 600)
    assert (lin["ratings"], mei["ratings"]) == ({"count": 2, "mean": 4.5}, {"count": 1, "mean": 1.0})
    assert report["headline"]["outcomes"] == {"done": 2, "redo": 1, "error": 1}
    assert report["headline"]["error_rate"] == 0.5
    assert lin["counters"] == [1] and mei["counters"] == [2]


def test_estimates_are_checked_against_the_real_wait_to_the_first_call_and_closing_promises_are_counted():
    hall = Hall()
    hall.open(1, LIN, "09:00")
    hall.open(2, MEI, "09:00")
    told = {}
    for when, estimate, raw in (("09:00", 600, 500), ("09:00", 300, 300), ("09:00", 60, 100), ("09:00", 1200, 1200)):
        ticket = hall.issue("B", when)
        hall.tickets[ticket].update(estimated_wait_s=estimate, raw_estimate_s=raw)
        told[ticket] = estimate
    first, second, third, moved = told
    hall.serve(first, 1, "09:10", "09:10", "09:12")  # waited 600, told 600: error 0
    hall.serve(second, 2, "09:12", "09:12", "09:15")  # waited 720, told 300: 420 longer
    hall.serve(third, 1, "09:12", "09:12", "09:14")  # waited 720, told 60: 660 longer
    hall.serve(moved, 2, "09:15", "09:15", "09:16")
    hall.tickets[moved]["service"] = "A"  # a transfer: its wait in the new queue was never estimated
    late = hall.issue("A", "16:40")
    hall.tickets[late].update(fits_before_close=False, cancel_reason="branch_closed", estimated_wait_s=900)
    hall.cancel(late, "17:00")
    promised = hall.issue("A", "16:30")
    hall.tickets[promised].update(fits_before_close=True, cancel_reason="branch_closed", estimated_wait_s=300)
    hall.cancel(promised, "17:00")
    told_late = hall.issue("A", "16:00")  # told while waiting, but only ten minutes before closing
    hall.tickets[told_late].update(fits_before_close=True, cancel_reason="branch_closed", late_warned_at=at("16:50"))
    hall.cancel(told_late, "17:00")
    told_in_time = hall.issue("A", "15:00")  # told three quarters of an hour before
    hall.tickets[told_in_time].update(fits_before_close=True, cancel_reason="branch_closed",
                                      late_warned_at=at("16:15"))
    hall.cancel(told_in_time, "17:00")

    estimates = hall.report(now="17:30")["headline"]["estimates"]

    assert estimates["counted"] == 3
    assert estimates["mean_abs_error_s"] == 360  # (0 + 420 + 660) / 3
    assert estimates["median_abs_error_s"] == 420
    assert estimates["bias_s"] == 360  # everyone waited longer than told, or as long
    assert (estimates["within_5min"], estimates["longer_than_told"]) == (0.3333, 0.6667)
    assert estimates["raw_mean_abs_error_s"] == round((100 + 420 + 620) / 3)
    assert (estimates["warned_late"], estimates["warned_while_waiting"]) == (1, 2)
    assert (estimates["cancelled_at_closing"], estimates["cancelled_unwarned"]) == (4, 2)  # never told; told too late


def test_alerts_per_rule_with_how_long_they_stayed_open_and_the_short_queue_lead_time():
    hall = Hall()
    hall.alerts = [
        AlertRow("idle_counter", "warning", at("09:01"), resolved_at=at("09:02")),
        AlertRow("idle_counter", "critical", at("09:10"), acknowledged_at=at("09:11"), resolved_at=at("09:15")),
        AlertRow("short_queue_long_wait", "warning", at("09:20"), resolved_at=at("09:21"), lead_time_s=240),
        AlertRow("short_queue_long_wait", "critical", at("09:30"), lead_time_s=0),  # still open at 10:00
    ]
    rows = {row["rule"]: row for row in hall.report(now="10:00")["alerts"]}
    idle = rows["idle_counter"]
    assert (idle["raised"], idle["critical"], idle["acknowledged"], idle["open"]) == (2, 1, 1, 0)
    assert (idle["open_mean_s"], idle["open_max_s"], idle["ack_mean_s"]) == (180, 300, 60)
    short = rows["short_queue_long_wait"]
    assert (short["raised"], short["open"], short["open_max_s"], short["lead_mean_s"], short["lead_min_s"]) == (
        2, 1, 1800, 120, 0)
    assert rows["long_pause"]["raised"] == 0 and rows["long_pause"]["open_mean_s"] is None


def test_waiting_series_samples_every_5_minutes_from_opening_and_ends_at_now():
    hall = Hall()
    hall.open(1, LIN, "09:00")
    first = hall.issue("A", "09:02")
    hall.issue("B", "09:05")  # counts at 09:05 itself: a point is taken after the events of its instant
    hall.call(first, 1, "09:12")
    series = hall.report(now="09:17")["waiting_series"]
    times = [datetime.fromtimestamp(t, timezone.utc).astimezone(TZ).strftime("%H:%M") for t in series["t"]]
    assert times == ["09:00", "09:05", "09:10", "09:15", "09:17"]
    assert series["services"] == {"A": [0, 1, 1, 0, 0], "B": [0, 1, 1, 1, 1]}


def test_a_finished_day_is_charted_to_closing_time_not_midnight():
    hall = Hall()
    hall.issue("A", "10:00")
    report = daily_report(ReportDay(DAY, TZ, at("23:59") + timedelta(days=1)), services=[CASH],
                          counters=[], staff=[], tickets=[TicketRow(**t) for t in hall.tickets.values()],
                          events=hall.events, alerts=[])
    assert report["period"]["complete"] is True
    last = datetime.fromtimestamp(report["waiting_series"]["t"][-1], timezone.utc).astimezone(TZ)
    assert last.strftime("%H:%M") == "17:00"
    assert report["headline"]["waiting"] == 1


def test_tickets_per_hour_are_counted_in_the_branch_time_zone_and_cover_early_tickets():
    hall = Hall()
    hall.issue("A", "08:50")
    hall.issue("A", "09:10")
    hall.issue("B", "09:59:59")
    hall.issue("B", "16:30")
    per_hour = hall.report(now="17:00")["tickets_per_hour"]
    assert per_hour["hours"] == list(range(8, 17))
    assert per_hour["services"]["A"][:3] == [1, 1, 0]
    assert per_hour["services"]["B"][:3] == [0, 1, 0] and per_hour["services"]["B"][-1] == 1
    assert per_hour["total"][:2] == [1, 2]


def test_csv_has_one_section_per_table_with_chinese_names_and_no_formulas():
    hall = Hall()
    hall.open(1, LIN, "09:00")
    ticket = hall.issue("A", "09:00")
    hall.serve(ticket, 1, "09:03", "09:03", "09:05", "redo")
    report = hall.report(now="10:00")
    report["tellers"][0]["name"] = "=HYPERLINK()"
    text = report_csv(report, "zh", "测试支行")
    rows = list(csv.reader(io.StringIO(text)))
    titles = [row[0] for row in rows if len(row) == 1]
    assert titles == ["概要", "按业务", "每小时取号数", "按柜员", "按窗口", "暂停原因", "预警", "客户评价"]
    assert rows[0][:2] == ["Callwise 日报 · 测试支行", "2026-11-30"]
    services = rows[rows.index(["按业务"]) + 1:]
    assert services[0][:2] == ["业务代码", "业务名称"] and services[1][:2] == ["A", "现金存取"]
    assert "'=HYPERLINK()" in text and "\n=" not in text and ",=" not in text
    english = list(csv.reader(io.StringIO(report_csv(report, "en"))))
    assert ["By service"] in english and any(row[:2] == ["A", "Cash"] for row in english)


# --- through the API, on SQLite and PostgreSQL ---------------------------------------------------


def advance(api, seconds):  # type: ignore[no-untyped-def]
    response = api.post("/clock/advance", "manager", json={"seconds": seconds})
    assert response.status_code == 200


def daily(api, query=""):  # type: ignore[no-untyped-def]
    response = api.get(f"/reports/daily{query}", "manager")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_an_empty_day_through_the_api(api):
    report = daily(api)
    assert (report["date"], report["timezone"], report["branch"]["code"]) == ("2026-11-30", "Asia/Shanghai", "test")
    assert report["headline"]["tickets"] == 0
    assert [row["code"] for row in report["services"]] == ["A", "B", "C", "D"]
    assert {row["rule"] for row in report["alerts"]} >= {"idle_counter", "short_queue_long_wait", "paused_ratio",
                                                          "long_pause", "help_requested", "service_level"}
    assert report["period"]["complete"] is False
    assert report["waiting_series"]["services"]["A"] == [0]


def test_a_scripted_day_on_the_manual_clock_gives_the_known_figures(api):
    api.open(1, "teller1")  # 09:00, counter 1 serves A and B
    first = api.issue("A")  # A001
    advance(api, 60)  # 09:01 idle_counter warning
    advance(api, 60)
    api.ok(1, "call-next")  # 09:02: waited 120 s; the alert resolves after 60 s open
    advance(api, 60)
    api.ok(1, "start")
    advance(api, 240)
    api.ok(1, "complete", json={"outcome": "done"})  # 09:07, served 240 s
    second = api.issue("A")  # A002, called at once
    api.ok(1, "call-next")
    advance(api, 60)
    api.ok(1, "no-show")  # 09:08
    late = api.issue("B")  # B001
    advance(api, 60)  # 09:09 idle_counter warning
    advance(api, 120)  # 09:11 critical
    advance(api, 120)
    api.ok(1, "call-next")  # 09:13: waited 300 s; the alert resolves after 240 s open
    api.ok(1, "start")
    advance(api, 120)
    api.ok(1, "complete", json={"outcome": "error"})  # 09:15, served 120 s, a mistake
    assert api.post(f"/tickets/{late['token']}/rating", json={"stars": 2}).status_code == 200
    api.ok(1, "pause", json={"reason": "break"})
    advance(api, 600)
    api.ok(1, "resume")  # 09:25
    api.issue("C")  # counter 1 does not serve C: nobody calls it
    advance(api, 1300)  # 09:46:40, C001 has waited past its 20-minute target

    report = daily(api)
    head = report["headline"]
    assert (head["tickets"], head["served"], head["no_shows"], head["waiting"]) == (4, 2, 1, 1)
    assert (head["avg_wait_s"], head["p90_wait_s"], head["max_wait_s"]) == (140, 300, 300)
    assert (head["service_level_met"], head["service_level_counted"], head["service_level"]) == (3, 4, 0.75)
    assert (head["no_show_rate"], head["error_rate"]) == (round(1 / 3, 4), 0.5)
    assert head["outcomes"] == {"done": 1, "redo": 0, "error": 1}
    assert head["ratings"] == {"count": 1, "mean": 2.0}
    # The estimates told at issue, against the waits that came (120 s, 0 s, 300 s): C001 is not called yet.
    errors = [real - ticket["estimated_wait_s"] for real, ticket in ((120, first), (0, second), (300, late))]
    assert head["estimates"]["counted"] == 3
    assert head["estimates"]["bias_s"] == round(sum(errors) / 3)
    assert head["estimates"]["cancelled_at_closing"] == 0

    cash = next(row for row in report["services"] if row["code"] == "A")
    assert (cash["tickets"], cash["called"], cash["avg_wait_s"], cash["served"], cash["no_shows"]) == (2, 2, 60, 1, 1)
    accounts = next(row for row in report["services"] if row["code"] == "C")
    assert (accounts["waiting"], accounts["service_level"]) == (1, 0.0)

    [person] = report["tellers"]
    assert (person["username"], person["counters"], person["served"], person["no_shows"]) == ("teller1", [1], 2, 1)
    assert (person["avg_service_s"], person["idle_with_waiting_s"], person["paused_s"]) == (180, 420, 600)
    assert (person["signed_in_s"], person["error_rate"], person["ratings"]) == (2800, 0.5, {"count": 1, "mean": 2.0})

    one = next(row for row in report["counters"] if row["number"] == 1)
    assert (one["paused_s"], one["pauses"], one["paused_by_reason_s"]["break"]) == (600, 1, 600)
    breaks = next(row for row in report["pauses"] if row["reason"] == "break")
    assert (breaks["count"], breaks["total_s"]) == (1, 600)

    idle = next(row for row in report["alerts"] if row["rule"] == "idle_counter")
    assert (idle["raised"], idle["critical"], idle["open"], idle["open_mean_s"], idle["open_max_s"]) == (
        2, 1, 0, 150, 240)
    assert head["alerts"] == sum(row["raised"] for row in report["alerts"])

    assert report["tickets_per_hour"]["services"]["A"][0] == 2  # both in the 09:00 hour
    series = report["waiting_series"]
    opening = int(datetime(2026, 11, 30, 1, 0, tzinfo=timezone.utc).timestamp())
    assert series["step_s"] == 300 and series["t"][0] == opening
    assert series["services"]["A"][:2] == [1, 0]  # 09:00 A001 waiting; 09:05 nobody
    assert series["services"]["B"][2] == 1  # 09:10: B001 waiting
    assert series["services"]["C"][-1] == 1


def test_another_day_is_asked_for_by_date_and_a_day_without_tickets_is_empty(api):
    api.issue("A")
    assert daily(api, "?date=2026-11-30")["headline"]["tickets"] == 1
    assert daily(api, "?date=2026-11-29")["headline"]["tickets"] == 0
    assert daily(api, "?date=2026-11-29")["period"]["complete"] is True


def test_a_malformed_date_is_422(api):
    for value in ("yesterday", "2026-13-01", "2026-02-30", "20261130", "2026-1-1", "0001-01-01"):
        response = api.get(f"/reports/daily?date={value}", "manager")
        assert response.status_code == 422, value
        assert response.get_json()["error"]["code"] == "bad_date"
        assert api.get(f"/reports/daily.csv?date={value}", "manager").status_code == 422


def test_the_csv_is_utf8_with_a_bom_and_holds_the_services_in_chinese(api):
    api.open(1, "teller1")
    api.issue("A")
    api.ok(1, "call-next")
    response = api.get("/reports/daily.csv?date=2026-11-30", "manager")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert 'filename="callwise-test-2026-11-30.csv"' in response.headers["Content-Disposition"]
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][0] == "Callwise 日报 · 测试支行"
    assert rows[rows.index(["按业务"]) + 2][:2] == ["A", "现金存取"]
    assert any(row[:1] == ["Teller1"] or row[:1] == ["teller1"] for row in rows)
    english = api.get("/reports/daily.csv?lang=en", "manager").data.decode("utf-8-sig")
    assert "By teller" in english and "Cash" in english
    assert api.get("/reports/daily.csv?lang=fr", "manager").status_code == 422


def test_only_managers_and_admins_read_the_report(api):
    for caller, status in ((None, 401), ("kiosk", 403), ("display", 403), ("teller1", 403), ("manager", 200),
                           ("admin", 200)):
        assert api.get("/reports/daily", caller).status_code == status, caller
        assert api.get("/reports/daily.csv", caller).status_code == status, caller
