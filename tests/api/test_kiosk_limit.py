"""Issue 17: the kiosk's ticket limit (server/limits.py ``KioskLimit``), one budget per kiosk device,
``[limits] kiosk_tickets_per_minute``; the per-kiosk budget itself is tests/api/test_auth.py's
``test_ticket_issuing_is_rate_limited_per_kiosk``."""

from __future__ import annotations

from typing import Any

import pytest

from server.limits import RETRY_STORAGE_S, WINDOW_S, KioskLimit, Throttled
from tests.conftest import Api

SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"])  # the limit reads and writes no database


def issue(api: Api, who: str | None, **kwargs: Any) -> Any:
    return api.post("/tickets", who, json={"service": "A"}, **kwargs)


@SQLITE_ONLY
def test_a_refused_ticket_says_when_to_ask_again(app_factory, fresh_db):
    api = Api(app_factory(limits={"kiosk_tickets_per_minute": 2}).test_client(), fresh_db.tokens)
    assert [issue(api, "kiosk").status_code for _ in range(2)] == [201, 201]
    refused = issue(api, "kiosk")
    assert refused.status_code == 429 and refused.get_json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


@SQLITE_ONLY
def test_staff_at_the_desk_and_refused_tokens_spend_their_address_budget(app_factory, fresh_db):
    api = Api(app_factory(limits={"kiosk_tickets_per_minute": 2}).test_client(), fresh_db.tokens)
    assert [issue(api, "teller1").status_code for _ in range(2)] == [201, 201]
    assert issue(api, "teller2").status_code == 429  # the same address
    assert issue(api, None, headers={"Authorization": "Bearer not-a-token"}).status_code == 429
    assert issue(api, "kiosk").status_code == 201  # a kiosk has its own budget


@SQLITE_ONLY
def test_with_a_shared_storage_every_process_spends_the_kiosks_one_budget(app_factory, fresh_db, redis_url):
    shared = {"server": {"rate_limit_storage": redis_url}, "limits": {"kiosk_tickets_per_minute": 2}}
    one, other = (Api(app_factory(**shared).test_client(), fresh_db.tokens) for _ in range(2))
    assert [issue(one, "kiosk").status_code, issue(other, "kiosk").status_code] == [201, 201]
    assert [issue(one, "kiosk").status_code, issue(other, "kiosk").status_code] == [429, 429]
    assert issue(other, "kiosk2").status_code == 201


class BrokenStorage:
    def __init__(self) -> None:
        self.broken, self.hits = True, 0

    def hit(self, *_args: Any) -> bool:
        self.hits += 1
        if self.broken:
            raise ConnectionError("redis is away")
        return True


def test_a_storage_that_fails_is_counted_around_in_memory_then_tried_again(caplog):
    clock = [0.0]
    limit = KioskLimit(2, "memory://", monotonic=lambda: clock[0])
    storage = limit.shared = BrokenStorage()  # type: ignore[assignment]
    limit.spend("device:1")
    assert "rate limit storage unreachable" in caplog.text
    limit.spend("device:1")
    with pytest.raises(Throttled):
        limit.spend("device:1")  # counted in memory meanwhile: the limit still holds
    assert storage.hits == 1  # not asked again at every ticket
    clock[0] += RETRY_STORAGE_S
    storage.broken = False
    limit.spend("device:1")
    assert storage.hits == 2


def test_the_window_begins_at_a_budgets_first_ticket():
    clock = [100.0]
    limit = KioskLimit(1, "memory://", monotonic=lambda: clock[0])
    limit.spend("device:1")
    clock[0] += WINDOW_S - 1
    with pytest.raises(Throttled) as refused:
        limit.spend("device:1")
    assert refused.value.retry_after_s == 1
    clock[0] += 1
    limit.spend("device:1")
