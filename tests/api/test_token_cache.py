"""Issue 17: token resolution from this process's cache (server/accounts.py ``TokenCache``), on both
database backends. A known token costs no query; ending a credential through the API (or any
function of server/accounts.py) ends it on the very next request; a change made by another process
without a message queue is noticed at the periodic check (``check_credentials``, called here by hand
as every server process's CredentialWatch calls it every ``socket_credential_check_s``); a change
told over the message queue (``_end_local``, what the listener runs) at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, event, select, update

from server import accounts
from server.accounts import TokenCache, hash_token, token_cache
from server.actors import Actor
from server.clock import wall_now
from server.models import AuthToken, Device, Staff
from server.realtime import _end_local, check_credentials
from tests.conftest import PASSWORD


@contextmanager
def statements(rt: Any) -> Iterator[list[str]]:
    """The SQL statements run on the runtime's database meanwhile."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(rt.db.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(rt.db.engine, "before_cursor_execute", note)


def ids(rt: Any) -> dict[str, int]:
    with rt.reading() as db:
        found = {name: id_ for id_, name in db.execute(select(Staff.id, Staff.username))}
        found.update({name: id_ for id_, name in db.execute(select(Device.id, Device.name))})
    return found


def elsewhere(fresh_db: Any, change: Any) -> None:
    """A change made by another process (the command line without a message queue, an operator's SQL)."""
    engine = create_engine(fresh_db.url)
    try:
        with engine.begin() as connection:
            connection.execute(change)
    finally:
        engine.dispose()


def test_a_known_token_is_served_without_a_query(api, rt, fresh_db, monkeypatch):
    now = wall_now()
    monkeypatch.setattr(accounts, "wall_now", lambda: now)
    assert api.get("/auth/me", "display").status_code == 200
    with statements(rt) as run:
        assert api.get("/auth/me", "display").get_json()["role"] == "display"
        assert accounts.resolve(rt, fresh_db.tokens["teller1"]) is not None  # read, and last seen noted
        assert accounts.resolve(rt, fresh_db.tokens["teller1"]) is not None
    assert len([s for s in run if "auth_tokens" in s.lower() and s.lstrip().upper().startswith("SELECT")]) == 1
    with statements(rt) as run:
        assert api.get("/auth/me", "display").status_code == 200
        assert accounts.resolve(rt, fresh_db.tokens["teller1"]).name == "Teller1"  # type: ignore[union-attr]
    assert run == []
    now += timedelta(minutes=1)  # last seen is noted again, once a minute, with a write and no read
    with statements(rt) as run:
        assert api.get("/auth/me", "display").status_code == 200
        assert api.get("/auth/me", "display").status_code == 200
    # (on SQLite each writer works in a SAVEPOINT of a transaction it may share: server/db.py)
    assert [s.split()[0].upper() for s in run
            if not s.upper().startswith(("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE"))] == ["UPDATE"]


def test_an_unknown_token_is_not_kept_and_a_new_device_token_works_at_once(api, rt):
    token = accounts.new_token()
    assert api.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    with rt.uow() as uow:  # as `device add` does, in any process
        uow.session.execute(update(Device).where(Device.name == "kiosk2").values(token_hash=hash_token(token)))
        uow.commit()
    assert api.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def logout(api: Any, rt: Any, who: str) -> None:
    assert api.post("/auth/logout", who).status_code == 200


def disable(api: Any, rt: Any, who: str) -> None:
    assert api.post(f"/admin/staff/{ids(rt)[who]}/disable", "admin").status_code == 200


def reset_password(api: Any, rt: Any, who: str) -> None:
    assert api.post(f"/admin/staff/{ids(rt)[who]}/password", "admin").status_code == 200


def change_role(api: Any, rt: Any, who: str) -> None:
    assert api.post(f"/admin/staff/{ids(rt)[who]}/role", "admin", json={"role": "manager"}).status_code == 200


def revoke(api: Any, rt: Any, who: str) -> None:
    assert api.post(f"/admin/devices/{ids(rt)[who]}/revoke", "admin").status_code == 200


def pair_again(api: Any, rt: Any, who: str) -> None:
    response = api.post("/admin/devices", "admin", json={"name": who, "kind": "kiosk"})
    assert response.status_code == 201 and response.get_json()["replaced"]
    assert api.client.get("/api/v1/services", headers={"Authorization": f"Bearer {response.get_json()['token']}"},
                          ).status_code == 200  # the new token, at once


@pytest.mark.parametrize("end, who, path", [
    (logout, "teller1", "/queue"),
    (disable, "teller1", "/queue"),
    (reset_password, "teller1", "/queue"),
    (change_role, "teller1", "/queue"),
    (revoke, "kiosk", "/services"),
    (pair_again, "kiosk", "/services"),
])
def test_ending_a_credential_through_the_api_ends_it_on_the_very_next_request(api, rt, end, who, path):
    assert api.get(path, who).status_code == 200
    assert len(token_cache(rt)) >= 1
    end(api, rt, who)
    response = api.get(path, who)
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "bad_token"


def test_the_functions_that_end_a_credential_drop_it_from_every_cache_of_the_process(app_factory, fresh_db):
    """The command line run in this process has a runtime (and cache) of its own beside the app's."""
    first, other = (app.extensions["callwise"] for app in (app_factory(), app_factory()))
    token = fresh_db.tokens["teller2"]
    assert accounts.resolve(first, token) is not None
    accounts.save_staff(other, "teller2", "teller", "another-password-1")  # `staff add` of an existing account
    assert accounts.resolve(first, token) is None
    device = fresh_db.tokens["display"]
    assert accounts.resolve(first, device) is not None
    accounts.add_device(other, "display", "display")
    assert accounts.resolve(first, device) is None


def test_a_change_made_by_another_process_is_noticed_at_the_next_check(api, rt, fresh_db):
    for who, path in (("teller1", "/queue"), ("manager", "/queue"), ("kiosk", "/services"), ("display", "/counters")):
        assert api.get(path, who).status_code == 200
    elsewhere(fresh_db, update(Staff).where(Staff.username == "teller1").values(active=False))
    elsewhere(fresh_db, update(Device).where(Device.name == "kiosk").values(revoked_at=wall_now()))
    elsewhere(fresh_db, update(AuthToken).where(AuthToken.token_hash == hash_token(fresh_db.tokens["manager"]))
              .values(expires_at=wall_now() - timedelta(seconds=1)))
    elsewhere(fresh_db, update(Device).where(Device.name == "display").values(name="hall"))  # renamed
    assert api.get("/queue", "teller1").status_code == 200  # until the check: at most socket_credential_check_s
    check_credentials(rt)
    assert api.get("/queue", "teller1").status_code == 401
    assert api.get("/services", "kiosk").status_code == 401
    assert api.get("/queue", "manager").status_code == 401
    assert api.get("/auth/me", "display").get_json()["name"] == "hall"  # read again, as it is now
    assert api.get("/queue", "teller2").status_code == 200


def test_a_check_confirms_the_cached_tokens_that_still_work(api, rt):
    cache = token_cache(rt)
    clock = [1000.0]
    cache.monotonic = lambda: clock[0]
    assert api.get("/queue", "teller1").status_code == 200
    clock[0] += cache.max_age_s * 0.75
    check_credentials(rt)
    clock[0] += cache.max_age_s * 0.75  # older than max_age_s since it was read, but confirmed since
    with statements(rt) as run:
        assert accounts.resolve(rt, api.tokens["teller1"]) is not None
    assert run == []


def test_a_token_no_check_confirmed_lately_is_read_again(api, rt, fresh_db):
    """Where no CredentialWatch runs, or while it is late: at most max_age_s (twice the check's period)."""
    cache = token_cache(rt)
    assert cache.max_age_s == 2 * rt.config.limits.socket_credential_check_s
    clock = [1000.0]
    cache.monotonic = lambda: clock[0]
    assert api.get("/services", "kiosk").status_code == 200
    elsewhere(fresh_db, update(Device).where(Device.name == "kiosk").values(revoked_at=wall_now()))
    clock[0] += cache.max_age_s
    assert api.get("/services", "kiosk").status_code == 200
    clock[0] += 0.1
    with statements(rt) as run:
        assert api.get("/services", "kiosk").status_code == 401
    assert sum("devices" in s.lower() for s in run) == 1  # a device stays a device: one query, not two


def test_an_expired_log_in_is_refused_without_a_query(api, rt, monkeypatch):
    assert api.get("/queue", "teller1").status_code == 200
    later = wall_now() + timedelta(hours=rt.config.server.token_lifetime_hours, minutes=1)
    monkeypatch.setattr(accounts, "wall_now", lambda: later)
    with statements(rt) as run:
        assert accounts.resolve(rt, api.tokens["teller1"]) is None
    assert run == []


def test_a_credential_another_process_ended_and_told_over_the_queue_is_refused_at_once(api, rt, fresh_db):
    assert api.get("/queue", "teller1").status_code == 200
    assert api.get("/services", "kiosk").status_code == 200
    elsewhere(fresh_db, update(Staff).where(Staff.username == "teller1").values(active=False))
    elsewhere(fresh_db, update(Device).where(Device.name == "kiosk").values(revoked_at=wall_now()))
    staff, device = ids(rt)["teller1"], ids(rt)["kiosk"]
    _end_local(rt, {"staff_id": staff, "token_id": None, "device_id": None})  # the queue's message
    _end_local(rt, {"staff_id": None, "token_id": None, "device_id": device})
    assert api.get("/queue", "teller1").status_code == 401
    assert api.get("/services", "kiosk").status_code == 401


# --- the cache itself ---------------------------------------------------------------------------------------


def entry(actor_id: int, kind: str = "staff") -> Any:
    actor = Actor(kind=kind, id=actor_id, role="teller" if kind == "staff" else "kiosk", branch_id=1,  # type: ignore[arg-type]
                  token_id=actor_id * 10 if kind == "staff" else None)
    return accounts._Entry(actor, None, None)


def test_a_read_that_began_before_a_credential_ended_is_not_kept():
    cache = TokenCache(max_age_s=4)
    generation = cache.generation  # a request starts reading the token...
    cache.forget(staff_id=7)  # ...an admin disables the account meanwhile...
    cache.put("digest", entry(7), generation)  # ...and the read, older than that, is not kept
    assert cache.lookup("digest") is None
    cache.put("digest", entry(7), cache.generation)
    assert cache.lookup("digest") is not None


def test_the_cache_keeps_the_most_recently_used_and_drops_the_idle():
    clock = [0.0]
    cache = TokenCache(max_age_s=4, size=2, monotonic=lambda: clock[0])
    for n in (1, 2):
        cache.put(f"d{n}", entry(n), cache.generation)
    assert cache.lookup("d1") is not None
    cache.put("d3", entry(3, "device"), cache.generation)
    assert [cache.lookup(d) is not None for d in ("d1", "d2", "d3")] == [True, False, True]
    clock[0] += accounts.TOKEN_CACHE_IDLE_S + 1
    assert cache.lookup("d3") is not None
    assert cache.held() == ([], [3])  # d1, unused all that time, is dropped rather than re-read
    assert cache.forget(token_id=10) == 0 and cache.forget(device_id=3) == 1 and len(cache) == 0


def test_logging_in_again_after_a_logout_works(api):
    assert api.get("/queue", "teller1").status_code == 200
    assert api.post("/auth/logout", "teller1").status_code == 200
    answer = api.client.post("/api/v1/auth/login", json={"username": "teller1", "password": PASSWORD})
    token = answer.get_json()["token"]
    assert api.client.get("/api/v1/queue", headers={"Authorization": f"Bearer {token}"}).status_code == 200
