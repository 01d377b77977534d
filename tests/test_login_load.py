"""Issue 16, finding 6: a flood of wrong passwords must not stall the server for everyone else.

A password check is scrypt, about half a second of CPU. It ran on the event loop: eight threads of
wrong passwords pushed ``GET /api/v1/health`` to a median of 4.2 s. Checks now run on a small pool of
OS threads (hashlib.scrypt releases the GIL), so the loop keeps answering while log-ins queue.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from tests.support.callwise import CallwiseServer

pytestmark = pytest.mark.server

ATTACKERS = 8
FLOOD_S = 6.0
# The old code's median was 4.2 s in the review (575 ms per check) and 0.73 s on the 2-core machine
# this was written on (70 ms per check: health waited for the eight queued checks). With the checks
# off the loop it is a few milliseconds there, both cores busy hashing; 0.3 s leaves room for a
# machine shared with other test workers and still fails the old code.
MEDIAN_LIMIT_S = 0.3


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallwiseServer]:
    # tests/branch.toml allows 100,000 log-in attempts a minute: the rate limit does not stop the flood.
    with CallwiseServer.running(tmp_path_factory.mktemp("login-load"), staff={"ana": "teller"}) as running:
        yield running


def health_latencies_during_a_flood(server: CallwiseServer) -> tuple[list[float], int]:
    """Health's answer times while ATTACKERS threads post wrong passwords for FLOOD_S; and how many
    wrong log-ins were answered (401) meanwhile."""
    stop = threading.Event()
    refused = [0] * ATTACKERS

    def attack(index: int) -> None:
        with requests.Session() as http:
            while not stop.is_set():
                answer = http.post(f"{server.base_url}/api/v1/auth/login", timeout=60,
                                   json={"username": "ana", "password": f"wrong-password-{index}"})
                assert answer.status_code == 401, answer.text
                refused[index] += 1

    threads = [threading.Thread(target=attack, args=(i,)) for i in range(ATTACKERS)]
    for thread in threads:
        thread.start()
    latencies: list[float] = []
    try:
        time.sleep(1.0)  # let the flood build up
        deadline = time.monotonic() + FLOOD_S
        with requests.Session() as http:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                answer = http.get(f"{server.base_url}/api/v1/health", timeout=60)
                latencies.append(time.perf_counter() - started)
                assert answer.status_code == 200, answer.text
                time.sleep(0.1)
    finally:
        stop.set()
        for thread in threads:
            thread.join(120)
    return latencies, sum(refused)


def test_health_stays_fast_while_eight_threads_post_wrong_passwords(server):
    """Issue 16, finding 6."""
    latencies, refused = health_latencies_during_a_flood(server)
    median = statistics.median(latencies)
    print(f"health during the flood: median {median * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms, "
          f"{len(latencies)} probes; {refused} wrong log-ins answered")
    assert refused >= ATTACKERS  # the flood really ran: every attacker got answers
    assert median < MEDIAN_LIMIT_S, f"median {median:.2f} s over {len(latencies)} probes"
    # And the right password still logs in once the flood is over.
    assert server.login("ana")
