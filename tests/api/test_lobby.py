"""The line between the lobby manager and the counters: instructions and their answers, help
requests answered "on my way" then "done", and complaints staff record (API.md v2, "The lobby
manager acts" and "Complaints")."""

from __future__ import annotations

from server.realtime import socketio


class Screen:
    """A Socket.IO test client that keeps everything it received."""

    def __init__(self, app, token: str) -> None:  # type: ignore[no-untyped-def]
        self.client = socketio.test_client(app, auth={"token": token})
        assert self.client.is_connected()
        self.received: list[tuple[str, dict]] = []

    def heard(self, event: str) -> list[dict]:
        self.received += [(m["name"], m["args"][0]) for m in self.client.get_received()]
        return [payload for name, payload in self.received if name == event]


def test_an_instruction_goes_to_the_teller_at_once_and_the_manager_hears_the_answer(app, api, fresh_db):
    api.open(1, "teller1")
    api.issue("A")
    teller = Screen(app, fresh_db.tokens["teller1"])
    other = Screen(app, fresh_db.tokens["teller2"])
    manager = Screen(app, fresh_db.tokens["manager"])
    sent = api.post("/counters/1/instruct", "manager", json={"kind": "call_next", "text": "A001 has waited"})
    assert sent.status_code == 201, sent.get_json()
    instruction = sent.get_json()
    assert (instruction["kind"], instruction["counter"], instruction["teller"]) == ("call_next", 1, "Teller1")
    assert instruction["answer"] is None and instruction["overdue"] is False
    [heard] = teller.heard("instruction")
    assert heard["id"] == instruction["id"] and heard["messages"]["en"] == "Please call the next customer"
    assert other.heard("instruction") == []  # another teller does not hear it
    assert [i["id"] for i in api.get("/instructions", "teller1").get_json()] == [instruction["id"]]
    assert api.get("/instructions", "teller2").get_json() == []
    assert api.post(f"/instructions/{instruction['id']}/ack", "teller2", json={"answer": "done"}).status_code == 403
    answered = api.post(f"/instructions/{instruction['id']}/ack", "teller1", json={"answer": "done"})
    assert answered.status_code == 200
    assert (answered.get_json()["answer"], answered.get_json()["answered_by"]) == ("done", "Teller1")
    [told] = manager.heard("instruction_answered")
    assert told["id"] == instruction["id"] and told["answer"] == "done"
    again = api.post(f"/instructions/{instruction['id']}/ack", "teller1", json={"answer": "cannot", "text": "x"})
    assert (again.status_code, again.get_json()["error"]["code"]) == (409, "already_answered")
    assert api.get("/instructions", "teller1").get_json() == []
    # The manager still sees it (answered, recently) on the dashboard.
    assert [i["answer"] for i in api.get("/instructions", "manager").get_json()] == ["done"]


def test_an_unanswered_instruction_is_flagged_after_a_minute(api, clock):
    api.open(1, "teller1")
    sent = api.post("/counters/1/instruct", "manager", json={"kind": "come_to_desk"}).get_json()
    clock.advance(59)
    assert api.get("/instructions", "manager").get_json()[0]["overdue"] is False
    clock.advance(2)
    [late] = api.get("/instructions", "manager").get_json()
    assert late["id"] == sent["id"] and late["overdue"] is True


def test_cannot_needs_a_reason_and_is_kept_with_it(api):
    api.open(1, "teller1")
    api.ok(1, "pause", json={"reason": "lunch"})
    sent = api.post("/counters/1/instruct", "manager", json={"kind": "end_pause"}).get_json()
    bare = api.post(f"/instructions/{sent['id']}/ack", "teller1", json={"answer": "cannot"})
    assert (bare.status_code, bare.get_json()["error"]["code"]) == (422, "reason_required")
    said = api.post(f"/instructions/{sent['id']}/ack", "teller1", json={"answer": "cannot", "text": "lunch break"})
    assert said.get_json()["answer_text"] == "lunch break"


def test_instructions_that_cannot_be_carried_out_are_refused_and_nothing_is_kept(api):
    api.issue("C")
    post = lambda number, who="manager", **body: api.post(f"/counters/{number}/instruct", who, json=body)  # noqa: E731
    assert post(1, kind="call_next").get_json()["error"]["code"] == "counter_closed"  # nobody signed in
    api.open(1, "teller1")
    assert post(1, who="teller1", kind="call_next").status_code == 403
    assert post(9, kind="call_next").status_code == 404
    assert post(1, kind="end_pause").get_json()["error"]["code"] == "not_paused"
    assert post(1, kind="serve_ticket").get_json()["error"]["code"] == "ticket_required"
    c = api.get("/queue", "manager").get_json()["services"][2]["tickets"][0]
    assert post(1, kind="serve_ticket", ticket=c["id"]).get_json()["error"]["code"] == "wrong_service"  # 1 serves A, B
    assert post(1, kind="note").get_json()["error"]["code"] == "text_required"
    assert post(1, kind="dance").status_code == 422
    assert api.get("/instructions", "manager").get_json() == []


def test_a_help_request_says_why_and_the_phone_hears_when_the_manager_is_on_the_way(app, api, fresh_db):
    api.open(2, "teller2")
    ticket = api.issue("A")
    api.ok(2, "call-next", "teller2")
    api.ok(2, "start", "teller2")
    counter = api.ok(2, "request-help", "teller2", {"reason": "documents", "text": "old ID card"})
    assert counter["help"] == {"requested_at": counter["help_requested_at"], "reason": "documents",
                               "text": "old ID card", "state": "waiting", "responded_at": None}
    phone = socketio.test_client(app, auth={"ticket": ticket["token"]})
    phone.get_received()
    alert = next(a for a in api.get("/alerts", "manager").get_json() if a["rule"] == "help_requested")
    api.post(f"/alerts/{alert['id']}/respond", "manager", json={"state": "on_my_way"})
    states = [m["args"][0]["help_state"] for m in phone.get_received() if m["name"] == "ticket_changed"]
    assert states == ["on_my_way"]


def test_a_teller_records_that_the_lobby_said_something_different_and_the_manager_hears_it(app, api, fresh_db):
    api.open(1, "teller1")
    ticket = api.issue("A")
    manager = Screen(app, fresh_db.tokens["manager"])
    recorded = api.post("/complaints", "teller1", json={
        "kind": "inconsistent_instructions", "ticket": ticket["id"], "counter": 1, "subject": "ID card",
        "text": "told in the lobby a bank card was enough"})
    assert recorded.status_code == 201, recorded.get_json()
    [heard] = manager.heard("complaint_recorded")
    assert (heard["kind"], heard["subject"], heard["ticket"]["number"], heard["counter"]) == (
        "inconsistent_instructions", "ID card", ticket["number"], 1)
    listed = api.get("/complaints?from=2026-11-30&to=2026-11-30", "manager").get_json()
    assert [c["id"] for c in listed] == [heard["id"]]
    assert api.get("/complaints?from=2026-12-01", "manager").get_json() == []
    assert api.get("/complaints", "teller1").status_code == 403
    assert api.get("/complaints?from=2026-12-02&to=2026-12-01", "manager").status_code == 422
    assert api.post("/complaints", "teller1", json={"kind": "rude", "text": "x"}).status_code == 422
    assert api.post("/complaints", "kiosk", json={"kind": "other", "text": "x"}).status_code == 403
    assert api.post("/complaints", "teller1", json={"kind": "other", "text": "x", "counter": 99}).status_code == 404


def test_a_tellers_snapshot_carries_its_open_instructions(app, api, fresh_db):
    api.open(1, "teller1")
    sent = api.post("/counters/1/instruct", "manager", json={"kind": "note", "text": "VIP at 10:30"}).get_json()
    client = socketio.test_client(app, auth={"token": fresh_db.tokens["teller1"]})
    [snapshot] = [m["args"][0] for m in client.get_received() if m["name"] == "state_snapshot"]
    assert [i["id"] for i in snapshot["instructions"]] == [sent["id"]]


def test_the_api_reference_is_a_valid_openapi_31_document_with_its_parameters(api):
    from openapi_spec_validator import validate

    spec = api.get("/openapi.json").get_json()
    validate(spec)
    instruct = spec["paths"]["/counters/{number}/instruct"]["post"]
    assert instruct["parameters"][0]["name"] == "number" and instruct["parameters"][0]["in"] == "path"
    assert spec["paths"]["/services"]["get"]["security"] == []
    assert "security" not in spec["paths"]["/queue"]["get"]
    assert spec["paths"]["/counters"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["type"] \
        == "array"
    assert [p["name"] for p in spec["paths"]["/complaints"]["get"]["parameters"]] == ["from", "to", "branch"]


def test_the_daily_report_counts_each_tellers_instructions_and_how_fast_they_answered(api, clock):
    api.open(1, "teller1")
    first = api.post("/counters/1/instruct", "manager", json={"kind": "call_next"}).get_json()
    clock.advance(30)
    api.post(f"/instructions/{first['id']}/ack", "teller1", json={"answer": "done"})
    api.post("/counters/1/instruct", "manager", json={"kind": "note", "text": "lunch at 12"})
    report = api.get("/reports/daily", "manager").get_json()
    assert report["headline"]["instructions"] == {"sent": 2, "done": 1, "cannot": 0, "unanswered": 1,
                                                  "median_answer_s": 30.0}
    [teller] = [t for t in report["tellers"] if t["username"] == "teller1"]
    assert teller["instructions"]["sent"] == 2 and teller["instructions"]["median_answer_s"] == 30.0


def _advance(api, seconds):  # type: ignore[no-untyped-def]
    assert api.post("/clock/advance", "manager", json={"seconds": seconds}).status_code == 200


def _complain(api, who, **body):  # type: ignore[no-untyped-def]
    response = api.post("/complaints", who, json={"text": "the customer complained", **body})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_a_complaint_says_which_card_warned_of_it_how_long_before_and_what_the_manager_did(api):
    """Issue 18: each complaint is linked to what Callwise knew. Counter 1 idles with a customer
    waiting: the idle-counter card comes at 60 s, the manager acknowledges it and sends the teller an
    instruction naming it, and two minutes later the customer complains about the idle counter."""
    api.open(1, "teller1")
    waiting = api.issue("A")
    _advance(api, 60)
    [card] = [a for a in api.get("/alerts?state=open", "manager").get_json() if a["rule"] == "idle_counter"]
    assert api.post(f"/alerts/{card['id']}/ack", "manager").status_code == 200
    assert api.post("/counters/1/instruct", "manager",
                    json={"kind": "call_next", "alert": card["id"]}).status_code == 201
    _advance(api, 120)
    complaint = _complain(api, "manager", kind="idle_counter", counter=1)
    assert complaint["warned"] == {
        "alert": card["id"], "rule": "idle_counter", "severity": "critical", "raised_at": card["raised_at"],
        "lead_s": 120, "acknowledged": True, "acted": True, "resolved_before": False}
    # The same customer's wait: their ticket had no card of its own, but the counter that should have
    # served them had one.
    about_ticket = _complain(api, "teller1", kind="short_queue_wait", ticket=waiting["id"], counter=1)
    assert about_ticket["warned"]["alert"] == card["id"]
    # Nothing warned of a teller's error or of a ticket nobody had a card about.
    assert _complain(api, "teller1", kind="teller_error")["warned"] is None
    other = api.issue("B")
    assert _complain(api, "teller1", kind="short_queue_wait", ticket=other["id"])["warned"] is None
    listed = api.get("/complaints?from=2026-11-30&to=2026-11-30", "manager").get_json()
    assert [c["warned"] is not None for c in listed] == [True, True, False, False]


def test_a_card_warns_of_a_complaint_only_while_open_or_just_resolved_and_never_after_it(api):
    api.open(1, "teller1")
    api.issue("A")
    early = _complain(api, "teller1", kind="idle_counter", counter=1)  # before any card
    assert early["warned"] is None
    _advance(api, 60)
    [card] = [a for a in api.get("/alerts?state=open", "manager").get_json() if a["rule"] == "idle_counter"]
    api.ok(1, "call-next")  # the card resolves
    _advance(api, 29 * 60)
    just_after = _complain(api, "teller1", kind="idle_counter", counter=1)
    assert (just_after["warned"]["alert"], just_after["warned"]["resolved_before"],
            just_after["warned"]["acknowledged"], just_after["warned"]["acted"]) == (card["id"], True, False, False)
    _advance(api, 2 * 60)  # 31 minutes after it resolved: another story
    assert _complain(api, "teller1", kind="idle_counter", counter=1)["warned"] is None
    # What was recorded keeps its own moment: the early complaint is still unwarned.
    listed = api.get("/complaints?from=2026-11-30&to=2026-11-30", "manager").get_json()
    assert [c["warned"] is not None for c in listed] == [False, True, False]


def test_every_kind_is_recorded_by_tellers_managers_and_admins_and_by_no_device(api):
    """Issue 18: any member of staff records any of the seven kinds, text optional; devices and
    strangers cannot, and a refused complaint leaves nothing behind."""
    from server.vocabulary import COMPLAINT_KINDS

    api.open(1, "teller1")
    ticket = api.issue("A")
    recorded = []
    for n, kind in enumerate(COMPLAINT_KINDS.codes):
        who = ("teller1", "manager", "admin")[n % 3]
        body = {"kind": kind, **({"ticket": ticket["id"]} if n % 2 else {"counter": 1}),
                **({"text": "x"} if n > 3 else {})}
        answer = api.post("/complaints", who, json=body)
        assert answer.status_code == 201, (who, kind, answer.get_json())
        recorded.append((answer.get_json()["kind"], answer.get_json()["text"]))
    assert [kind for kind, _ in recorded] == list(COMPLAINT_KINDS.codes)
    assert recorded[0][1] == "" and recorded[-1][1] == "x"
    for who, status in (("kiosk", 403), ("display", 403), (None, 401)):
        assert api.post("/complaints", who, json={"kind": "other"}).status_code == status, who
    for body, status in (({"kind": "other", "ticket": 10**9}, 404), ({"kind": "other", "text": "x" * 1001}, 422),
                         ({"kind": "other", "counter": 0}, 422), ({"text": "no kind"}, 422)):
        assert api.post("/complaints", "manager", json=body).status_code == status, body
    listed = api.get("/complaints", "manager").get_json()
    assert [c["kind"] for c in listed] == list(COMPLAINT_KINDS.codes)


def test_a_long_queue_customers_complaint_is_linked_to_their_services_card(api):
    """A customer with four ahead has no card of their own; nobody serves their service, and the
    service's card said so before they complained."""
    tickets = [api.issue("D") for _ in range(5)]
    _advance(api, 8 * 60)
    warned = _complain(api, "manager", kind="other", ticket=tickets[-1]["id"])["warned"]
    cards = {a["id"]: a for a in api.get("/alerts?state=all", "manager").get_json()}
    assert warned is not None and warned["rule"] in ("service_level", "unstaffed_service")
    assert cards[warned["alert"]]["subject"]["id"] == "D"
    # Another service's customer is not warned by D's card.
    api.open(1, "teller1")
    a_ticket = api.issue("A")
    assert _complain(api, "manager", kind="other", ticket=a_ticket["id"])["warned"] is None
