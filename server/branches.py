"""Bringing the database in line with config.toml: the branches, their services and counters.

Config is the source of truth for what a branch offers; the database keeps rows for them so that
tickets and events can refer to them. Services or counters removed from the file are deactivated,
never deleted: yesterday's tickets still point at them.
"""

from __future__ import annotations

from sqlalchemy import delete, select, text

from server.actors import Actor
from server.config import BranchSpec
from server.errors import Forbidden, NotFound
from server.models import Branch, Counter, CounterService, Service
from server.queueing.catalog import forget_config_rows
from server.queueing.machine import CounterState
from server.runtime import Runtime

SYNC_LOCK = 0x43414C53  # any constant shared by every Callwise process ("CALS")


def _localized(value: str | dict[str, str], languages: list[str]) -> dict[str, str]:
    return {lang: value for lang in languages} if isinstance(value, str) else dict(value)


def sync_branches(rt: Runtime) -> dict[str, int]:
    """Create or update every branch of the config with its services and counters; branch ids by code."""
    for spec in rt.config.branches:
        sync_branch(rt, spec)
    return dict(rt.branch_ids)


def sync_branch(rt: Runtime, config: BranchSpec | None = None) -> int:
    """Create or update one branch (default: the config's first), its services and counters;
    return the branch id."""
    config = config or rt.config.first
    now = rt.clock.now()
    languages = list(config.branch.languages)
    with rt.uow() as uow:
        session = uow.session
        if session.get_bind().dialect.name == "postgresql":
            # Several processes start at once (gunicorn workers, a restart): one syncs at a time, and
            # the next finds the rows the first committed. SQLite's BEGIN IMMEDIATE already does this.
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SYNC_LOCK})
        branch = session.scalar(select(Branch).where(Branch.code == config.branch.code))
        if branch is None:
            branch = Branch(code=config.branch.code, created_at=now)
            session.add(branch)
        branch.name = _localized(config.branch.name, languages)
        branch.timezone = config.branch.timezone
        branch.languages = languages
        session.flush()

        services = {s.code: s for s in session.scalars(select(Service).where(Service.branch_id == branch.id))}
        for position, item in enumerate(config.services):
            service = services.get(item.code)
            if service is None:
                service = Service(branch_id=branch.id, code=item.code)
                session.add(service)
                services[item.code] = service
            service.name = dict(item.name)
            service.kind = item.kind
            service.expected_minutes = float(item.expected_minutes)
            service.documents = [dict(d) for d in item.documents]
            service.notes = dict(item.notes) if item.notes else None
            service.target_wait_s = (
                int(item.target_wait_minutes * 60)
                if item.target_wait_minutes is not None
                else config.alerts.service_level_default_target_s
            )
            service.position = position
            service.active = True
        configured = {s.code for s in config.services}
        for code, service in services.items():
            if code not in configured:
                service.active = False
        session.flush()

        counters = {c.number: c for c in session.scalars(select(Counter).where(Counter.branch_id == branch.id))}
        for entry in config.counters:
            counter = counters.get(entry.number)
            if counter is None:
                counter = Counter(
                    branch_id=branch.id, number=entry.number, state=CounterState.CLOSED.value, state_since=now
                )
                session.add(counter)
                counters[entry.number] = counter
            counter.name = dict(entry.name) if entry.name else None
            counter.active = True
            session.flush()
            session.execute(delete(CounterService).where(CounterService.counter_id == counter.id))
            for rank, code in enumerate(entry.services):
                session.add(CounterService(counter_id=counter.id, service_id=services[code].id, rank=rank))
        numbers = {c.number for c in config.counters}
        for number, counter in counters.items():
            if number not in numbers:
                counter.active = False
        uow.commit()
        forget_config_rows(session)
        rt.branch_ids[config.branch.code] = branch.id
        return branch.id


def branch_for(rt: Runtime, actor: Actor, code: str | None) -> int:
    """The branch a request or a connection is about: the one ``code`` names, else the caller's own
    (the config's first for admins of every branch and for anonymous callers). Only admins of every
    branch and anonymous readers may name a branch other than their own (403 ``other_branch``); an
    unknown code is 404 ``unknown_branch``. HTTP (``?branch=``) and Socket.IO (the ``branch`` of the
    connect payload) both ask here."""
    if code is None:
        return actor.branch_id if actor.branch_id is not None else rt.default_branch_id
    branch_id = rt.branch_ids.get(code)
    if branch_id is None:
        if "\x00" not in code:  # PostgreSQL cannot compare text holding NUL (a 500); it names nothing
            with rt.reading() as db:
                branch_id = db.scalar(select(Branch.id).where(Branch.code == code))
        if branch_id is None:
            raise NotFound(f"there is no branch {code!r}", code="unknown_branch")
    if actor.kind != "anonymous" and not actor.may_see_branch(branch_id):
        raise Forbidden("that is another branch", code="other_branch")
    return branch_id
