"""Two processes evaluating alerts at the same moment on PostgreSQL never duplicate one."""

from __future__ import annotations

import multiprocessing
from collections import Counter as Tally
from datetime import timedelta

import pytest
from sqlalchemy import select

from server.models import Alert
from tests.conftest import TEST_CONFIG

pytestmark = pytest.mark.postgres


@pytest.fixture
def backend() -> str:
    return "postgresql"


def sweep_many(url: str, start: str, barrier, rounds: int, errors) -> None:  # type: ignore[no-untyped-def]
    from server import create_app

    app = create_app(TEST_CONFIG, server={"database_url": url}, clock={"mode": "manual", "start": start})
    engine = app.extensions["callwise"].alerts
    try:
        barrier.wait(timeout=60)
        for _ in range(rounds):
            engine.sweep()
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        errors.put(repr(exc))
    finally:
        app.extensions["callwise"].db.dispose()


def test_two_processes_sweeping_at_once_raise_each_alert_exactly_once(api, rt, clock, fresh_db):
    # This process only sets the scene (its own evaluations happen at the start time, before any
    # threshold); the two children then evaluate the same later moment at once.
    api.open(1, "teller1")
    api.open(2, "teller2")
    for service in "AAABBCD":
        api.issue(service)
    later = clock.now() + timedelta(seconds=700)  # idle counters, short queues, broken estimates
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    errors = context.Queue()
    workers = [context.Process(target=sweep_many, args=(fresh_db.url, later.isoformat(), barrier, 15, errors))
               for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    assert errors.empty(), errors.get()
    with rt.reading() as session:
        rows = session.execute(select(Alert.rule, Alert.subject_kind, Alert.subject_id)).all()
    assert len(rows) >= 5
    assert max(Tally(rows).values()) == 1, Tally(rows).most_common(3)
