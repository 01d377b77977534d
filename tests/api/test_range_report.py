"""The range report (issue 18): each day as the daily report has it, the ISO weeks and the total
adding the days up, the complaints per kind and how many an alert had warned of, checked against a
history made by hand over three days (the branch's zone is Asia/Shanghai; the clock starts Monday
2026-11-30 at 09:00 there)."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api

DAY_S = 24 * 3600


def advance(api: Api, seconds: float) -> None:
    assert api.post("/clock/advance", "manager", json={"seconds": seconds}).status_code == 200


def serve(api: Api, outcome: str = "done", minutes: float = 4) -> dict[str, Any]:
    called = api.ok(1, "call-next")
    api.ok(1, "start")
    advance(api, minutes * 60)
    api.ok(1, "complete", json={"outcome": outcome})
    return called


def test_three_days_a_week_boundary_and_the_complaints_an_alert_warned_of(api: Api) -> None:
    # Monday 30 November: three customers of A; one served, one redone (a teller's error), one no-show;
    # the counter idles meanwhile with a customer waiting, and that customer complains of it.
    api.open(1, "teller1")
    for _ in range(3):
        api.issue("A")
    serve(api)
    redo = serve(api, "redo")
    advance(api, 60)  # idle one minute with the third customer waiting: a card
    [card] = [a for a in api.get("/alerts?state=open", "manager").get_json() if a["rule"] == "idle_counter"]
    assert api.post("/complaints", "manager", json={"kind": "idle_counter", "counter": 1,
                                                    "text": "nobody called me"}).status_code == 201
    assert api.post("/complaints", "teller1", json={"kind": "teller_error", "ticket": redo["id"],
                                                    "text": "had to sign twice"}).status_code == 201
    api.ok(1, "call-next")
    advance(api, 90)
    api.ok(1, "no-show")
    # Tuesday 1 December: one customer, served.
    advance(api, DAY_S)
    api.issue("A")
    serve(api, minutes=6)
    # Monday 7 December (the next ISO week): one customer, who complains with no card before it.
    advance(api, 6 * DAY_S)
    waiting = api.issue("A")
    assert api.post("/complaints", "teller1", json={"kind": "short_queue_wait", "ticket": waiting["id"],
                                                    "text": "waited"}).status_code == 201
    serve(api)

    answer = api.get("/reports/range?from=2026-11-30&to=2026-12-07", "manager")
    assert answer.status_code == 200, answer.get_json()
    report = answer.get_json()
    days = {row["date"]: row for row in report["days"]}
    assert len(days) == 8 and report["timezone"] == "Asia/Shanghai"
    assert [(d, days[d]["tickets"], days[d]["served"], days[d]["no_shows"]) for d in
            ("2026-11-30", "2026-12-01", "2026-12-02", "2026-12-07")] == [
        ("2026-11-30", 3, 2, 1), ("2026-12-01", 1, 1, 0), ("2026-12-02", 0, 0, 0), ("2026-12-07", 1, 1, 0)]
    # Each day is the daily report's figures.
    for day in ("2026-11-30", "2026-12-01", "2026-12-07"):
        daily = api.get(f"/reports/daily?date={day}", "manager").get_json()["headline"]
        assert (days[day]["tickets"], days[day]["service_level_met"], days[day]["service_level_counted"],
                days[day]["avg_wait_s"], days[day]["outcomes"]) == (
            daily["tickets"], daily["service_level_met"], daily["service_level_counted"], daily["avg_wait_s"],
            daily["outcomes"])
    assert days["2026-11-30"]["outcomes"]["redo"] == 1 and days["2026-11-30"]["error_rate"] == 0.5
    assert days["2026-11-30"]["complaints"]["idle_counter"] == 1
    assert days["2026-11-30"]["complaints"]["teller_error"] == 1
    assert (days["2026-11-30"]["complaints_warned"], days["2026-11-30"]["complaints_total"]) == (1, 2)
    assert days["2026-11-30"]["alerts"]["idle_counter"]["raised"] == 1
    # The ISO weeks: 30 November - 6 December, then 7 December.
    weeks = [(w["week"], w["from"], w["to"], w["tickets"], w["complaints_total"]) for w in report["weeks"]]
    assert weeks == [("2026-W49", "2026-11-30", "2026-12-06", 4, 2), ("2026-W50", "2026-12-07", "2026-12-07", 1, 1)]
    total = report["total"]
    assert (total["tickets"], total["served"], total["no_shows"], total["complaints_total"]) == (5, 4, 1, 3)
    assert total["service_level_counted"] == sum(row["service_level_counted"] for row in report["days"])
    assert total["error_rate"] == 0.25
    assert (total["complaints_warned"], total["complaints_warned_share"]) == (1, round(1 / 3, 4))
    assert total["complaints"] == {"teller_error": 1, "inconsistent_instructions": 0, "short_queue_wait": 1,
                                   "idle_during_service": 0, "idle_counter": 1, "counters_paused": 0, "other": 0}
    [warned] = [c for c in report["complaints"] if c["warned"] is not None]
    assert warned["warned"]["alert"] == card["id"]
    # Waits: the days' means weighted by the customers each day called.
    weighted = [(row["service_level_counted"], row["avg_wait_s"]) for row in report["days"]
                if row["avg_wait_s"] is not None]
    assert total["avg_wait_s"] == round(sum(n * w for n, w in weighted) / sum(n for n, _ in weighted), 1)


def test_the_range_is_for_managers_and_a_bad_range_changes_nothing(api: Api) -> None:
    assert api.get("/reports/range?from=2026-11-30&to=2026-11-30", "teller1").status_code == 403
    assert api.get("/reports/range?from=2026-11-30", None).status_code == 401
    for query, code in (("from=2026-12-02&to=2026-12-01", "bad_range"), ("from=2026-01-01&to=2026-12-01", "bad_range"),
                        ("from=2026-13-01", "bad_date")):
        answer = api.get(f"/reports/range?{query}", "manager")
        assert (answer.status_code, answer.get_json()["error"]["code"]) == (422, code), query
    today = api.get("/reports/range", "manager").get_json()
    assert (today["from"], today["to"], [d["date"] for d in today["days"]]) == ("2026-11-30", "2026-11-30",
                                                                               ["2026-11-30"])


def test_the_range_report_downloads_as_csv_every_table_or_one_in_either_language(api: Api) -> None:
    import csv
    import io

    api.open(1, "teller1")
    waiting = api.issue("A")
    assert api.post("/complaints", "teller1", json={"kind": "short_queue_wait", "ticket": waiting["id"],
                                                    "text": "=waited too long"}).status_code == 201
    serve(api)
    advance(api, DAY_S)
    api.issue("A")
    whole = api.get("/reports/range.csv?from=2026-11-30&to=2026-12-01&lang=en", "manager")
    assert whole.status_code == 200 and whole.mimetype == "text/csv"
    assert 'filename="callwise-' in whole.headers["Content-Disposition"]
    text = whole.data.decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[0][1:] == ["2026-11-30", "2026-12-01", "Asia/Shanghai"]
    sections = [row[0] for row in lines if len(row) == 1]
    assert sections == ["Total", "By day", "By week", "Complaints", "Incidents", "Alerts by rule (total)",
                        "Rating comments"]
    days = list(csv.DictReader(io.StringIO(api.get("/reports/range.csv?from=2026-11-30&to=2026-12-01&lang=en"
                                                   "&table=days", "manager").data.decode("utf-8-sig"))))
    assert [(d["Date"], d["Tickets"], d["Served"], d["Complaints: Long wait in a short queue"]) for d in days] == [
        ("2026-11-30", "1", "1", "1"), ("2026-12-01", "1", "0", "0")]
    complaints = list(csv.DictReader(io.StringIO(api.get(
        "/reports/range.csv?from=2026-11-30&to=2026-12-01&table=complaints", "manager").data.decode("utf-8-sig"))))
    [row] = complaints
    assert (row["类别"], row["号码"], row["内容"]) == ("人少久等", waiting["number"], "'=waited too long")
    assert api.get("/reports/range.csv?table=hours", "manager").status_code == 422
    assert api.get("/reports/range.csv?lang=fr", "manager").status_code == 422
    assert api.get("/reports/range.csv", "teller1").status_code == 403


def walk(api: Api, seconds: float, step: float = 20, who: str = "manager") -> None:
    """Move the clock on in steps, as a server's sweep does: the alert rules see the time pass."""
    for _ in range(int(seconds // step)):
        assert api.post("/clock/advance", who, json={"seconds": step}).status_code == 200


def test_the_incidents_of_each_kind_are_counted_from_the_history_with_their_warnings_and_complaints(api: Api) -> None:
    """Monday: two counters open; a lone customer waits 11 minutes (both counters idle meanwhile),
    then a transaction runs 10 minutes (over twice the 3 expected); then both counters pause and a
    second lone customer waits 11 minutes. Two customers complain: the first of the wait, naming
    their ticket; the second of the paused counters, naming nothing. Tuesday is quiet."""
    api.open(1, "teller1")
    api.open(2, "teller2")
    first = api.issue("A")
    walk(api, 120)
    # The manager acts on counter 1's idle card: an instruction naming it.
    [card] = [a for a in api.get("/alerts", "manager").get_json() if a["rule"] == "idle_counter"
              and a["subject"]["id"] == 1]
    sent = api.post("/counters/1/instruct", "manager", json={"kind": "call_next", "alert": card["id"]})
    assert sent.status_code == 201
    walk(api, 540)
    api.ok(1, "call-next")
    api.ok(1, "start")
    walk(api, 600)
    api.ok(1, "complete", json={"outcome": "done"})
    waited = api.post("/complaints", "manager", json={"kind": "short_queue_wait", "ticket": first["id"]})
    assert waited.status_code == 201, waited.get_json()  # the text is optional: two taps on a tablet
    api.ok(1, "pause", json={"reason": "break"})
    api.ok(2, "pause", "teller2", json={"reason": "break"})
    second = api.issue("A")
    walk(api, 660)
    paused = api.post("/complaints", "teller1", json={"kind": "counters_paused", "text": "everyone on a break"})
    assert paused.status_code == 201
    api.ok(1, "resume")
    api.ok(1, "call-next")
    api.ok(1, "start")
    walk(api, 120)
    api.ok(1, "complete", json={"outcome": "done"})
    api.ok(2, "resume", "teller2")
    advance(api, DAY_S)

    report = api.get("/reports/range?from=2026-11-30&to=2026-12-01", "manager").get_json()
    found = [(i["kind"], i["date"], i["at"][11:19], (i["ticket"] or {}).get("number"), i["counter"])
             for i in report["incidents"]]
    assert found == [
        ("idle_counter", "2026-11-30", "01:03:00", None, 1),  # 09:03 in Shanghai: free 3 min with A001 waiting
        ("idle_counter", "2026-11-30", "01:03:00", None, 2),
        ("short_queue", "2026-11-30", "01:10:00", first["number"], None),  # no one ahead, 10 min
        ("service_overrun", "2026-11-30", "01:17:00", first["number"], 1),  # started 09:11, 2 x 3 min later
        ("paused_ratio", "2026-11-30", "01:31:00", None, None),  # both paused from 09:21, people waiting
        ("short_queue", "2026-11-30", "01:31:00", second["number"], None),
    ]
    by = {(i["kind"], i["counter"], (i["ticket"] or {}).get("number")): i for i in report["incidents"]}
    # Complaints: the first customer's names their ticket and the kind of its wait; the paused
    # counters' names nothing. The transaction overrun and the second wait drew none.
    assert by[("short_queue", None, first["number"])]["complaint"] == waited.get_json()["id"]
    assert by[("paused_ratio", None, None)]["complaint"] == paused.get_json()["id"]
    assert by[("service_overrun", 1, first["number"])]["complaint"] is None
    assert by[("short_queue", None, second["number"])]["complaint"] is None
    # Warnings: the cards the engine raised before each incident, on its subject.
    alerts = api.get("/alerts?state=all&limit=100", "manager").get_json()
    for incident in report["incidents"]:
        assert incident["warned"] == (incident["warned_by"] is not None)
    idle_cards = {a["subject"]["id"] for a in alerts if a["rule"] == "idle_counter"}
    assert idle_cards and all(by[("idle_counter", n, None)]["warned"] for n in idle_cards)
    assert by[("idle_counter", 1, None)]["warned_by"]["lead_s"] >= 60  # raised a minute into the idling
    assert by[("short_queue", None, second["number"])]["warned_by"]["rule"] == "short_queue_long_wait"
    monday, tuesday = report["days"]
    assert monday["incidents"] == {"short_queue": 2, "idle_counter": 2, "paused_ratio": 1, "service_overrun": 1}
    assert (monday["incidents_total"], monday["incidents_no_complaint"]) == (6, 4)
    assert monday["incidents_warned"] == sum(i["warned"] for i in report["incidents"])
    assert (tuesday["incidents_total"], tuesday["tickets"]) == (0, 0)
    assert report["total"]["incidents"] == monday["incidents"]
    assert monday["alerts"]["idle_counter"]["acted"] == 1 and monday["alerts_acted"] == 1
    assert report["weeks"][0]["incidents_no_complaint"] == 4
    # The daily report counts the same incidents.
    daily = api.get("/reports/daily?date=2026-11-30", "manager").get_json()
    assert daily["headline"]["incidents"] == monday["incidents"]
    assert [i["kind"] for i in daily["incidents"]] == [i["kind"] for i in report["incidents"]]
    # The incidents table as CSV, in English.
    import csv
    import io
    table = api.get("/reports/range.csv?from=2026-11-30&to=2026-12-01&lang=en&table=incidents", "manager")
    rows = list(csv.DictReader(io.StringIO(table.data.decode("utf-8-sig"))))
    assert [(r["Incident"], r["Became an incident"], r["Ticket"], r["Complained of"]) for r in rows][2:4] == [
        ("Short queue, wait over 10 min", "09:10:00", first["number"], "yes"),
        ("Transaction far past its time", "09:17:00", first["number"], "no")]
