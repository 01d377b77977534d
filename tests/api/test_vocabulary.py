"""GET /api/v1/branch gives every screen the vocabulary, and the API accepts every word of it."""

from __future__ import annotations

from server import vocabulary


def test_branch_carries_every_word_list_with_its_labels(api):
    branch = api.get("/branch").get_json()
    words = branch["vocabulary"]
    assert words["languages"] == list(vocabulary.LANGUAGES)
    for word_list in vocabulary.ALL:
        assert [term["code"] for term in words[word_list.name]] == list(word_list.codes)
        for term in words[word_list.name]:
            assert term["label"] == word_list.label(term["code"])
            assert term["short"] == word_list.short(term["code"])
            assert term["phrase"] == word_list.phrase(term["code"])
    states = {term["code"]: term["label"] for term in words["counter_states"]}
    assert states["closed"] == {"zh": "未开放", "en": "Closed"}


def test_branch_keeps_its_older_pause_reasons_and_outcomes(api):
    branch = api.get("/branch").get_json()
    assert [reason["code"] for reason in branch["pause_reasons"]] == list(vocabulary.PAUSE_REASONS.codes)
    names = {reason["code"]: reason["name"] for reason in branch["pause_reasons"]}
    assert {code: names[code] for code in ("break", "meeting", "cash_replenish", "other")} == {
        "break": {"zh": "休息", "en": "break"},
        "meeting": {"zh": "开会", "en": "meeting"},
        "cash_replenish": {"zh": "清机加钞", "en": "cash replenishment"},
        "other": {"zh": "其他", "en": "other"},
    }
    assert branch["outcomes"] == [
        {"code": "done", "name": {"zh": "办结", "en": "Done"}},
        {"code": "redo", "name": {"zh": "需重办", "en": "Redo"}},
        {"code": "error", "name": {"zh": "差错", "en": "Error"}},
    ]


def test_a_counter_pauses_for_every_reason_of_the_vocabulary(api):
    api.open(1, "teller1")
    for reason in vocabulary.PAUSE_REASONS.codes:
        counter = api.ok(1, "pause", json={"reason": reason})
        assert (counter["state"], counter["pause_reason"]) == ("paused", reason)
        api.ok(1, "resume")
    refused = api.act(1, "pause", json={"reason": "nap"})
    assert refused.status_code == 422


def test_a_customer_finishes_with_every_outcome_of_the_vocabulary(api):
    api.open(1, "teller1")
    for outcome in vocabulary.OUTCOMES.codes:
        token = api.issue("A")["token"]
        api.serve_one(1, "teller1", outcome)
        ticket = api.ticket(token)
        assert (ticket["status"], ticket["outcome"]) == ("done", outcome)
