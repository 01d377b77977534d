"""Issue 16, finding 3, against a real server process (gevent, real WebSockets): disabling an account
or revoking a device through the admin API disconnects that credential's open sockets at once, and
only those."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.callwise import CallwiseServer
from tests.support.listener import DISCONNECTED, listening

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallwiseServer]:
    with CallwiseServer.running(
        tmp_path_factory.mktemp("admin-sockets"),
        staff={"boss": "admin", "ana": "teller", "bo": "teller"},
        devices={"lobby": "display", "door": "kiosk"},
    ) as running:
        yield running


def ids(server: CallwiseServer, listing: str, key: str) -> dict[str, int]:
    response = server.get(f"/admin/{listing}", who="boss")
    assert response.status_code == 200, response.text
    return {row[key]: row["id"] for row in response.json()}


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_a_disabled_tellers_socket_is_disconnected_at_once(server, transport):
    staff = ids(server, "staff", "username")
    with listening(server.base_url, {"token": server.tokens["ana"]}, transport=transport) as ana, \
            listening(server.base_url, {"token": server.tokens["bo"]}, transport=transport) as bo:
        ana.sync()
        response = server.post(f"/admin/staff/{staff['ana']}/disable", who="boss")
        assert response.status_code == 200, response.text
        ana.wait_for(DISCONNECTED)
        assert not ana.connected
        bo.sync()  # the other teller is still connected and answered
        assert bo.connected
    assert server.post(f"/admin/staff/{staff['ana']}/enable", who="boss").status_code == 200
    server.tokens["ana"] = server.login("ana")


def test_a_revoked_displays_socket_is_disconnected_at_once_and_cannot_come_back(server):
    devices = ids(server, "devices", "name")
    with listening(server.base_url, {"token": server.tokens["lobby"]}) as lobby, \
            listening(server.base_url, {"token": server.tokens["door"]}) as door:
        lobby.sync()
        response = server.post(f"/admin/devices/{devices['lobby']}/revoke", who="boss")
        assert response.status_code == 200, response.text
        lobby.wait_for(DISCONNECTED)
        door.sync()
    # A page coming back with the revoked token, on a new connection (the old client may be busy
    # reconnecting by itself, which says "Already connected" rather than why).
    with pytest.raises(Exception, match="unauthorized|Connection refused|One or more namespaces failed"), \
            listening(server.base_url, {"token": server.tokens["lobby"]}):
        pass
