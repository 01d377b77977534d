"""Issue 16, finding 2, on both database backends: the periodic check of the credentials this
process's sockets connected with (server/realtime.py, ``check_credentials``), and ``end_sockets``.

The Socket.IO test client connects in-process; the check is called directly, as each server
process's CredentialWatch calls it every 2 s (tests/test_socket_revocation.py runs it for real).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import update

from server import accounts
from server.accounts import hash_token
from server.clock import wall_now
from server.models import AuthToken, Staff
from server.realtime import check_credentials, end_sockets, socketio


def connect(app: Any, token: str) -> Any:
    client = socketio.test_client(app, auth={"token": token})
    assert client.is_connected()
    return client


def test_a_check_with_every_credential_valid_disconnects_nobody(app: Any, rt: Any, fresh_db: Any) -> None:
    clients = [connect(app, fresh_db.tokens[who]) for who in ("display", "kiosk", "teller1", "manager")]
    assert check_credentials(rt) == 0
    assert all(client.is_connected() for client in clients)


def test_the_check_ends_a_rotated_device_an_expired_login_and_a_disabled_account(
    app: Any, rt: Any, fresh_db: Any,
) -> None:
    display = connect(app, fresh_db.tokens["display"])
    teller = connect(app, fresh_db.tokens["teller1"])
    manager = connect(app, fresh_db.tokens["manager"])
    kiosk = connect(app, fresh_db.tokens["kiosk"])

    accounts.add_device(rt, "display", "display")  # a new token for the display: the old one is over
    assert check_credentials(rt) == 1
    assert not display.is_connected() and teller.is_connected()

    with rt.uow() as uow:
        uow.session.execute(update(AuthToken).where(AuthToken.token_hash == hash_token(fresh_db.tokens["teller1"]))
                            .values(expires_at=wall_now() - timedelta(seconds=1)))
        uow.session.execute(update(Staff).where(Staff.username == "manager").values(active=False))
        uow.commit()
    assert check_credentials(rt) == 2
    assert not teller.is_connected() and not manager.is_connected()
    assert kiosk.is_connected()


def test_end_sockets_ends_only_the_named_credential(app: Any, rt: Any, fresh_db: Any) -> None:
    first = connect(app, fresh_db.tokens["teller1"])
    other_login = accounts.login(rt, "teller1", "correct-horse-9")["token"]
    second = connect(app, other_login)
    display = connect(app, fresh_db.tokens["display"])
    token_id = accounts.logout(rt, fresh_db.tokens["teller1"])
    assert token_id is not None
    assert end_sockets(rt, token_id=token_id) == 1
    assert not first.is_connected() and second.is_connected()
    staff_id = accounts.resolve(rt, other_login).id  # type: ignore[union-attr]
    assert end_sockets(rt, staff_id=staff_id) == 1
    assert not second.is_connected() and display.is_connected()
    device_id = accounts.resolve(rt, fresh_db.tokens["display"]).id  # type: ignore[union-attr]
    assert end_sockets(rt, device_id=device_id) == 1
    assert not display.is_connected()


def test_logout_over_http_ends_that_logins_sockets(app: Any, api: Any, fresh_db: Any) -> None:
    teller = connect(app, fresh_db.tokens["teller2"])
    assert api.post("/auth/logout", who="teller2").status_code == 200
    assert not teller.is_connected()
