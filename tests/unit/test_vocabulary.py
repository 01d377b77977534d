"""The vocabulary is the one definition of every closed word list: validation, state enums, OpenAPI
enums, CSV headers and alert wording all follow it, so a word added there is a word known everywhere."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from pydantic import ValidationError

from server import config, vocabulary
from server.alerts.rules import registry
from server.alerts.text import pause_reason
from server.api.counters import CompleteBody, PauseBody
from server.api.openapi import document
from server.config import AlertConfig, ServiceConfig
from server.queueing.machine import CounterState, Outcome, TicketStatus
from server.reports import report_csv
from server.simulator.world import World


def enums_in(node: Any) -> list[list[Any]]:
    """Every ``enum`` anywhere in a JSON document."""
    found = []
    if isinstance(node, dict):
        if isinstance(node.get("enum"), list):
            found.append(node["enum"])
        for value in node.values():
            found.extend(enums_in(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(enums_in(value))
    return found


def test_every_term_has_label_short_and_phrase_in_every_language():
    for words in vocabulary.ALL:
        assert words.codes, words.name
        for term in words.as_json():
            for form in ("label", "short", "phrase"):
                assert set(term[form]) == set(vocabulary.LANGUAGES), (words.name, term["code"], form)
                assert all(text.strip() for text in term[form].values()), (words.name, term["code"], form)


def test_a_list_refuses_a_missing_translation_or_a_code_twice():
    with pytest.raises(ValueError, match="languages"):
        vocabulary.WordList("x", (vocabulary.Term("a", {"zh": "甲"}),))
    with pytest.raises(ValueError, match="twice"):
        vocabulary.WordList("x", (vocabulary.Term("a", {"zh": "甲", "en": "A"}),
                                  vocabulary.Term("a", {"zh": "乙", "en": "B"})))


def test_phrases_read_inside_sentences_as_the_alert_texts_always_did():
    phrases = {code: vocabulary.PAUSE_REASONS.phrase(code) for code in ("break", "meeting", "cash_replenish", "other")}
    assert phrases == {
        "break": {"zh": "休息", "en": "break"},
        "meeting": {"zh": "开会", "en": "meeting"},
        "cash_replenish": {"zh": "清机加钞", "en": "cash replenishment"},
        "other": {"zh": "其他", "en": "other"},
    }
    assert pause_reason("cash_replenish") == phrases["cash_replenish"]
    assert pause_reason("nap") == pause_reason(None) == phrases["other"]


def test_closed_reads_the_same_on_every_screen():
    assert vocabulary.COUNTER_STATES.label("closed") == {"zh": "未开放", "en": "Closed"}


def test_the_state_machine_enums_are_the_vocabulary():
    assert [s.value for s in TicketStatus] == list(vocabulary.TICKET_STATUSES.codes)
    assert [s.value for s in CounterState] == list(vocabulary.COUNTER_STATES.codes)
    assert [o.value for o in Outcome] == list(vocabulary.OUTCOMES.codes)
    assert TicketStatus.NO_SHOW == "no_show" and CounterState.CLOSED == "closed"


def test_every_alert_rule_has_its_words_and_every_word_its_rule():
    assert set(registry()) == set(vocabulary.ALERT_RULES.codes)


def test_request_bodies_accept_exactly_the_vocabulary():
    for reason in vocabulary.PAUSE_REASONS.codes:
        assert PauseBody(reason=reason).reason == reason
    for outcome in vocabulary.OUTCOMES.codes:
        assert CompleteBody(outcome=outcome).outcome == outcome
    with pytest.raises(ValidationError):
        PauseBody(reason="nap")
    with pytest.raises(ValidationError):
        CompleteBody(outcome="maybe")


def test_config_knows_every_pause_reason_and_service_kind_and_nothing_else():
    assert vocabulary.PAUSE_REASONS.codes == config.PAUSE_REASONS
    assert vocabulary.SERVICE_KINDS.codes == config.SERVICE_KINDS
    assert AlertConfig(long_pause_s={code: 60 for code in vocabulary.PAUSE_REASONS.codes})
    with pytest.raises(ValidationError, match="unknown pause reason 'nap'"):
        AlertConfig(long_pause_s={"nap": 60})
    defaults = AlertConfig().long_pause_s
    assert set(defaults) <= set(vocabulary.PAUSE_REASONS.codes) and "other" in defaults
    for kind in vocabulary.SERVICE_KINDS.codes:
        assert ServiceConfig(code="A", name={"zh": "甲", "en": "A"}, kind=kind, expected_minutes=3).kind == kind
    with pytest.raises(ValidationError):
        ServiceConfig(code="A", name={"zh": "甲", "en": "A"}, kind="slow", expected_minutes=3)
    assert World(pause_reasons={code: (1.0, 5.0) for code in vocabulary.PAUSE_REASONS.codes})


def test_every_list_is_an_enum_of_the_openapi_document():
    spec = document()
    enums = enums_in(spec)
    for words in vocabulary.ALL:
        assert list(words.codes) in enums or [*words.codes, None] in enums, words.name
    schemas = spec["components"]["schemas"]
    assert schemas["Ticket"]["properties"]["status"]["enum"] == list(vocabulary.TICKET_STATUSES.codes)
    assert schemas["Counter"]["properties"]["state"]["enum"] == list(vocabulary.COUNTER_STATES.codes)
    assert schemas["Counter"]["properties"]["pause_reason"]["enum"] == [*vocabulary.PAUSE_REASONS.codes, None]
    assert schemas["Alert"]["properties"]["rule"]["enum"] == list(vocabulary.ALERT_RULES.codes)
    pause = spec["paths"]["/counters/{number}/pause"]["post"]["requestBody"]["content"]["application/json"]
    assert pause["schema"]["properties"]["reason"]["enum"] == list(vocabulary.PAUSE_REASONS.codes)
    complete = spec["paths"]["/counters/{number}/complete"]["post"]["requestBody"]["content"]["application/json"]
    assert complete["schema"]["properties"]["outcome"]["enum"] == list(vocabulary.OUTCOMES.codes)
    documented = schemas["Branch"]["properties"]["vocabulary"]
    assert set(documented["required"]) == {"languages", *(words.name for words in vocabulary.ALL)}


def empty_report() -> dict[str, Any]:
    outcomes = {code: 0 for code in vocabulary.OUTCOMES.codes}
    return {
        "date": "2026-11-30", "timezone": "Asia/Shanghai", "period": {"complete": True, "end": ""},
        "headline": {"outcomes": outcomes}, "services": [],
        "tickets_per_hour": {"hours": [], "services": {}, "total": []}, "tellers": [],
        "counters": [{"number": 1, "paused_by_reason_s": {code: 60.0 for code in vocabulary.PAUSE_REASONS.codes}}],
        "pauses": [{"reason": "cash_replenish", "count": 1}], "alerts": [{"rule": "long_pause", "raised": 1}],
    }


@pytest.mark.parametrize("lang", vocabulary.LANGUAGES)
def test_csv_names_every_outcome_and_pause_reason_from_the_vocabulary(lang):
    rows = list(csv.reader(io.StringIO(report_csv(empty_report(), lang))))
    cells = {cell for row in rows for cell in row}
    for code in vocabulary.OUTCOMES.codes:
        assert any(vocabulary.OUTCOMES.phrase(code)[lang] in cell for cell in cells), code
    for code in vocabulary.PAUSE_REASONS.codes:
        assert any(vocabulary.PAUSE_REASONS.phrase(code)[lang] in cell for cell in cells), code
    assert vocabulary.PAUSE_REASONS.label("cash_replenish")[lang] in cells
    assert vocabulary.ALERT_RULES.label("long_pause")[lang] in cells
