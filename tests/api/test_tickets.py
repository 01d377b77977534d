"""Issuing and following tickets through the HTTP API."""

from __future__ import annotations

import io
from datetime import timedelta

import zxingcpp
from PIL import Image
from sqlalchemy import func, select

from server.models import Ticket, TicketSequence


def test_kiosk_issues_numbered_tickets_per_service(api):
    assert api.issue("A")["number"] == "A001"
    assert api.issue("A")["number"] == "A002"
    assert api.issue("B")["number"] == "B001"
    assert api.issue("A")["number"] == "A003"


def test_ticket_answer_has_every_field_of_the_contract(api):
    ticket = api.issue("A", lang="en")
    for field in ("id", "number", "service", "status", "token", "people_ahead", "position", "estimated_wait_s",
                  "issued_at", "called_at", "served_at", "finished_at", "counter", "outcome", "track_url"):
        assert field in ticket, field
    assert ticket["status"] == "waiting"
    assert ticket["service"] == "A"
    assert ticket["lang"] == "en"
    assert ticket["track_url"] == f"http://callwise.test/t/{ticket['token']}"
    assert ticket["issued_at"].endswith("+00:00")


def test_token_is_long_random_and_unique(api):
    tokens = {api.issue("A")["token"] for _ in range(20)}
    assert len(tokens) == 20
    assert all(len(token) >= 22 for token in tokens)  # >= 128 bits in URL-safe base64


def test_people_ahead_counts_waiting_tickets_of_the_same_service_only(api):
    api.issue("A")
    api.issue("B")
    api.issue("A")
    ticket = api.issue("A")
    assert ticket["people_ahead"] == 2
    assert ticket["position"] == 3
    assert api.issue("B")["people_ahead"] == 1


def test_promised_wait_is_kept_while_live_estimate_moves(api, clock):
    api.open(1, "teller1")
    first = api.issue("A")
    second = api.issue("A")
    promised = second["estimated_wait_s"]
    api.ok(1, "call-next", "teller1")
    live = api.ticket(second["token"])
    assert live["estimated_wait_at_issue_s"] == promised
    assert live["position"] == 1
    assert live["people_ahead"] == 1
    assert api.ticket(first["token"])["position"] == 0


def test_numbering_restarts_on_the_next_business_day_in_the_branch_time_zone(app_factory, fresh_db):
    from tests.conftest import Api

    # A branch open around the clock, so tickets can be taken on both sides of midnight.
    app = app_factory(branch={"opening_time": "00:00", "closing_time": "23:59:59", "last_ticket_time": "23:59:59"})
    api, clock = Api(app.test_client(), fresh_db.tokens), app.extensions["callwise"].clock
    assert api.issue("A")["number"] == "A001"
    # 09:00 Shanghai + 14h59m = 23:59 the same local day
    clock.advance(timedelta(hours=14, minutes=59).total_seconds())
    assert api.issue("A")["number"] == "A002"
    clock.advance(120)  # 00:01 the next local day (16:01 UTC, still the same UTC date)
    ticket = api.issue("A")
    assert ticket["number"] == "A001"
    assert ticket["business_day"] == "2026-12-01"


def test_unknown_service_is_422_and_consumes_no_number(api, rt):
    response = api.post("/tickets", who="kiosk", json={"service": "Z"})
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "unknown_service"
    assert api.issue("A")["number"] == "A001"
    with rt.reading() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 1


def test_a_failed_issue_leaves_no_gap_in_the_numbers(api, app, monkeypatch):
    api.issue("A")
    from server.queueing import tickets

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(tickets, "branch_load", broken)
    response = api.post("/tickets", who="kiosk", json={"service": "A"})
    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "internal_error"
    monkeypatch.undo()
    assert api.issue("A")["number"] == "A002"


def test_unknown_language_is_422(api):
    response = api.post("/tickets", who="kiosk", json={"service": "A", "lang": "fr"})
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "unknown_language"


def test_unknown_body_field_is_422(api):
    response = api.post("/tickets", who="kiosk", json={"service": "A", "vip": True})
    assert response.status_code == 422
    assert "vip" in response.get_json()["error"]["message"]


def test_malformed_json_is_400_and_issues_nothing(api, rt):
    response = api.post("/tickets", who="kiosk", data="{service: A", content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "malformed_json"
    response = api.post("/tickets", who="kiosk", json=["A"])
    assert response.status_code == 400
    with rt.reading() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 0


def test_repeated_idempotency_key_returns_the_same_ticket(api, rt):
    headers = {"Idempotency-Key": "tap-0001-abcdef"}
    first = api.post("/tickets", who="kiosk", json={"service": "A"}, headers=headers)
    again = api.post("/tickets", who="kiosk", json={"service": "A"}, headers=headers)
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.get_json()["number"] == first.get_json()["number"]
    assert again.get_json()["token"] == first.get_json()["token"]
    with rt.reading() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 1
        assert session.scalar(select(TicketSequence.last_number)) == 1


def test_idempotency_keys_are_per_kiosk(api):
    headers = {"Idempotency-Key": "tap-0001-abcdef"}
    a = api.post("/tickets", who="kiosk", json={"service": "A"}, headers=headers).get_json()
    b = api.post("/tickets", who="kiosk2", json={"service": "A"}, headers=headers).get_json()
    assert a["number"] != b["number"]


def test_bad_idempotency_key_is_422(api):
    response = api.post("/tickets", who="kiosk", json={"service": "A"}, headers={"Idempotency-Key": "x"})
    assert response.status_code == 422


def test_ticket_lookup_by_unknown_token_is_404(api):
    response = api.get("/tickets/" + "x" * 32)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "unknown_ticket"


def test_ticket_lookup_shows_counter_and_help_while_called(api):
    ticket = api.issue("A")
    api.open(2, "teller2")
    api.ok(2, "call-next", "teller2")
    live = api.ticket(ticket["token"])
    assert (live["status"], live["counter"], live["position"], live["estimated_wait_s"]) == ("called", 2, 0, 0)
    api.ok(2, "start", "teller2")
    api.ok(2, "request-help", "teller2")
    assert api.ticket(ticket["token"])["help_requested"] is True
    api.ok(2, "complete", "teller2", {"outcome": "done"})
    done = api.ticket(ticket["token"])
    assert done["help_requested"] is False
    assert done["status"] == "done"
    assert done["outcome"] == "done"


def test_qr_code_decodes_to_the_tracking_url(api):
    ticket = api.issue("A")
    png = api.get(f"/tickets/{ticket['token']}/qr.png")
    assert png.status_code == 200
    assert png.mimetype == "image/png"
    svg = api.get(f"/tickets/{ticket['token']}/qr.svg")
    assert svg.mimetype == "image/svg+xml"
    assert b"<svg" in svg.data
    image = Image.open(io.BytesIO(png.data))
    assert image.size[0] >= 21 * 8  # at least a version-1 code at 8 px per module
    assert [code.text for code in zxingcpp.read_barcodes(image)] == [ticket["track_url"]]


def test_qr_for_unknown_token_is_404(api):
    assert api.get("/tickets/" + "y" * 32 + "/qr.png").status_code == 404


def test_the_customer_rates_a_finished_service_once(api, rt):
    ticket = api.issue("A")
    too_early = api.post(f"/tickets/{ticket['token']}/rating", json={"stars": 5})
    assert too_early.status_code == 409
    assert too_early.get_json()["error"]["code"] == "not_finished"
    api.open(1, "teller1")
    api.serve_one(1, "teller1")
    rated = api.post(f"/tickets/{ticket['token']}/rating", json={"stars": 4, "comment": "  quick and kind "})
    assert rated.status_code == 200
    assert (rated.get_json()["rating"], rated.get_json()["rating_comment"]) == (4, "quick and kind")
    again = api.post(f"/tickets/{ticket['token']}/rating", json={"stars": 1})
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "already_rated"
    with rt.reading() as session:
        stored = session.scalar(select(Ticket).where(Ticket.token == ticket["token"]))
        assert (stored.rating, stored.rated_at is not None) == (4, True)


def test_a_rating_needs_one_to_five_stars(api):
    ticket = api.issue("A")
    for body in ({"stars": 0}, {"stars": 6}, {"stars": "five"}, {}, {"stars": 3, "comment": "x" * 501}):
        assert api.post(f"/tickets/{ticket['token']}/rating", json=body).status_code == 422
    assert api.post("/tickets/" + "z" * 32 + "/rating", json={"stars": 3}).status_code == 404


def test_the_holders_view_carries_its_service_branch_and_rating(api):
    ticket = api.issue("D")
    assert ticket["service_name"]["en"] == "Loans"
    assert [d["en"] for d in ticket["documents"]] == ["ID card", "Proof of income"]
    assert ticket["branch"] == {"code": "test", "name": {"zh": "测试支行", "en": "Test branch"},
                                "timezone": "Asia/Shanghai"}
    api.open(4, "teller4")
    api.serve_one(4, "teller4")
    api.post(f"/tickets/{ticket['token']}/rating", json={"stars": 5})
    assert api.ticket(ticket["token"])["rating"] == 5
    staff_view = api.get("/queue", "teller1").get_json()
    assert "rating" not in str(staff_view) and "documents" not in staff_view["services"][0]["tickets"].__repr__()


def test_an_issue_is_a_handful_of_statements_and_reads_no_configuration(api, rt):
    """The issue path of issue 17: the hall in one read, the number, the ticket and its event. The
    branch's services and its row were read once for the process (server/queueing/catalog.py), also
    when the write transaction is one several writers share (SQLite's group commit binds the session
    to a connection, not to the engine they are kept by)."""
    from sqlalchemy import event

    rt.change_listeners.clear()  # the alert engine evaluates in a task of its own in a server
    api.issue("A")
    seen: list[str] = []

    def note(_connection, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        seen.append(" ".join(statement.split()[:4]).upper())

    event.listen(rt.db.engine, "before_cursor_execute", note)
    try:
        api.issue("A")
    finally:
        event.remove(rt.db.engine, "before_cursor_execute", note)
    work = [s for s in seen if not s.startswith(("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE"))]
    assert not [s for s in work if "FROM SERVICES" in s or "FROM BRANCHES" in s or "FROM DEVICES" in s], work
    # the load, the number, (PostgreSQL: the count again,) the ticket, the event
    assert len(work) == (4 if rt.db.is_sqlite else 5), work
