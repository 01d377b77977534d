"""The database rows. Alembic (migrations/) is the only way this schema reaches a database.

Models are rows: no commits and no request state in here. Times are stored in UTC and always come
back as aware datetimes, on SQLite as on PostgreSQL.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and read back as an aware datetime on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; pass an aware one")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


# BIGINT on PostgreSQL, INTEGER (the rowid alias, so it autoincrements) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Branch(Base):
    __tablename__ = "branches"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[dict[str, str]] = mapped_column(JSON)
    timezone: Mapped[str] = mapped_column(String(64))
    languages: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Service(Base):
    __tablename__ = "services"
    __table_args__ = (UniqueConstraint("branch_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"))
    code: Mapped[str] = mapped_column(String(2))
    name: Mapped[dict[str, str]] = mapped_column(JSON)
    kind: Mapped[str] = mapped_column(String(16))
    expected_minutes: Mapped[float] = mapped_column(Float)
    documents: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    notes: Mapped[dict[str, str] | None] = mapped_column(JSON)
    target_wait_s: Mapped[int | None] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, server_default=true())


class Staff(Base):
    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))  # teller | manager | admin
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"))  # None: an admin of every branch
    active: Mapped[bool] = mapped_column(Boolean, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Wall-clock time of the account's latest authenticated request or socket (written at most
    # once a minute), for `staff list` and the admin page.
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Created by demo mode (server/demo.py): production refuses to start while any exists.
    demo: Mapped[bool] = mapped_column(Boolean, server_default=false())


class AuthToken(Base):
    """A staff log-in. Only the SHA-256 of the token is stored."""

    __tablename__ = "auth_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Device(Base):
    """A kiosk or lobby display. Only the SHA-256 of its token is stored."""

    __tablename__ = "devices"
    __table_args__ = (UniqueConstraint("branch_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"))
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # kiosk | display
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    demo: Mapped[bool] = mapped_column(Boolean, server_default=false())


class AuditEntry(Base):
    """One administrative action (an account or device added, disabled, enabled, revoked, a password
    reset, a role changed), by whom and through what (the admin page/API or the command line). Kept
    for good; shown on the /admin page."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    via: Mapped[str] = mapped_column(String(16))  # api | cli
    actor_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    actor_name: Mapped[str] = mapped_column(String(128))  # the admin's username, or the OS user of the CLI
    action: Mapped[str] = mapped_column(String(32))
    target_kind: Mapped[str] = mapped_column(String(16))  # staff | device
    target_name: Mapped[str] = mapped_column(String(128))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Counter(Base):
    __tablename__ = "counters"
    __table_args__ = (UniqueConstraint("branch_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"))
    number: Mapped[int] = mapped_column(Integer)
    name: Mapped[dict[str, str] | None] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, server_default=true())
    state: Mapped[str] = mapped_column(String(16))
    state_since: Mapped[datetime] = mapped_column(UTCDateTime)
    # One counter per person at a time: the database refuses a second.
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), unique=True)
    pause_reason: Mapped[str | None] = mapped_column(String(32))
    help_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The open help request: why (a help reason of server/vocabulary.py), what the teller added, and
    # who answered "on my way" when (None while nobody has).
    help_reason: Mapped[str | None] = mapped_column(String(32))
    help_text: Mapped[str | None] = mapped_column(String(500))
    help_responder_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    help_responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The counter's last complete or no-show, while it may still be undone: which ticket, which
    # action and when (cleared by the counter's next action).
    undo_ticket_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    undo_action: Mapped[str | None] = mapped_column(String(16))
    undo_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CounterService(Base):
    """A service a counter serves, and its rank in that counter's call order (0 first)."""

    __tablename__ = "counter_services"

    counter_id: Mapped[int] = mapped_column(ForeignKey("counters.id", ondelete="CASCADE"), primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), primary_key=True)
    rank: Mapped[int] = mapped_column(Integer)


class TicketSequence(Base):
    """The last number given per service per business day. Incremented in the ticket's own
    transaction, so a failed issue rolls its number back and no gap appears."""

    __tablename__ = "ticket_sequences"

    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), primary_key=True)
    business_day: Mapped[date] = mapped_column(Date, primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer)


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("branch_id", "business_day", "number"),
        UniqueConstraint("device_id", "idempotency_key"),
        UniqueConstraint("issued_by_staff_id", "idempotency_key"),
        # The call order of a queue: first waiting by issue time.
        Index("ix_tickets_queue", "branch_id", "status", "service_id", "issued_at", "id"),
        # A counter has at most one called-or-serving ticket, whatever the code does.
        Index(
            "uq_tickets_active_counter",
            "counter_id",
            unique=True,
            sqlite_where=text("status IN ('called', 'serving')"),
            postgresql_where=text("status IN ('called', 'serving')"),
        ),
        Index("ix_tickets_finished", "service_id", "finished_at"),
        # The day's finished tickets and the latest calls of a branch, without scanning its history.
        Index("ix_tickets_branch_finished", "branch_id", "finished_at"),
        Index("ix_tickets_branch_last_called", "branch_id", "last_called_at"),
        # The tickets whose own phone page heard a change alone lately (the heartbeat's).
        Index("ix_tickets_version", "version"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    business_day: Mapped[date] = mapped_column(Date)
    sequence: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    lang: Mapped[str] = mapped_column(String(8))
    people_ahead: Mapped[int] = mapped_column(Integer)
    estimated_wait_s: Mapped[int] = mapped_column(Integer)  # the wait promised at issue
    # The estimate before the day's calibration: what the calibration is measured against.
    raw_estimate_s: Mapped[int | None] = mapped_column(Integer)
    # Whether, at issue, the customer was likely to be called before closing (None: issued before
    # the branch kept hours).
    fits_before_close: Mapped[bool | None] = mapped_column(Boolean)
    # When, still waiting, it was first found unlikely to be called before closing: from then on it
    # reads as fits_before_close false (its phone page and the lobby screen warn).
    late_warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When it (re-)entered a queue: the issue time, or the time of its latest transfer.
    waiting_since: Mapped[datetime] = mapped_column(UTCDateTime)
    called_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_called_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the latest call or recall
    served_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    counter_id: Mapped[int | None] = mapped_column(ForeignKey("counters.id"))
    served_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    outcome: Mapped[str | None] = mapped_column(String(16))
    recall_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    original_service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"))
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    cancel_reason: Mapped[str | None] = mapped_column(String(32))
    rating: Mapped[int | None] = mapped_column(Integer)
    rating_comment: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The event-log version of the latest change that only this ticket's own phone page heard (a
    # start, a recall, a finish): what the heartbeat tells that page. None until there is one.
    version: Mapped[int | None] = mapped_column(BigId)
    # A priority customer (elderly, disabled, pregnant): called before the normal tickets of the service.
    priority: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    # A no-show who came back: waiting again, at the front of its service (first returned, first called).
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Transferred to one counter's own queue: that counter calls it before its services' queues.
    directed_counter_id: Mapped[int | None] = mapped_column(ForeignKey("counters.id"))
    # Stepped aside at a counter (status held; counter_id keeps the counter) and why.
    held_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The latest hold or transfer note, for the next teller.
    note: Mapped[str | None] = mapped_column(String(500))
    # Issued by a member of staff rather than a kiosk (device_id None).
    issued_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))


class Event(Base):
    """The append-only log: every change of a ticket or a counter is one row, written in the same
    transaction as the change itself."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_entity", "entity", "entity_id", "id"),
        Index("ix_events_branch_at", "branch_id", "at"),
        Index("ix_events_branch_id", "branch_id", "id"),  # a branch's latest event: its version
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    entity: Mapped[str] = mapped_column(String(16))  # ticket | counter
    entity_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"))
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Which families of screens heard the change (server/rooms.py Audience flags); None for events
    # written before audiences were recorded, which count as heard by all.
    audiences: Mapped[int | None] = mapped_column(Integer)


class Alert(Base):
    """An early warning. At most one open (unresolved) alert per rule and subject: the partial unique
    index below makes the database refuse a second, even from two processes evaluating at once."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index(
            "uq_alerts_open_subject",
            "branch_id",
            "rule",
            "subject_kind",
            "subject_id",
            unique=True,
            sqlite_where=text("resolved_at IS NULL"),
            postgresql_where=text("resolved_at IS NULL"),
        ),
        Index("ix_alerts_branch_raised", "branch_id", "raised_at"),
        Index("ix_alerts_resolved", "resolved_at"),  # those resolved within the hold-off (the engine's)
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"))
    rule: Mapped[str] = mapped_column(String(32))
    subject_kind: Mapped[str] = mapped_column(String(16))  # counter | ticket | service | branch
    subject_id: Mapped[str] = mapped_column(String(32))  # counter number, ticket id, service code, branch code
    severity: Mapped[str] = mapped_column(String(16))  # warning | critical
    message: Mapped[dict[str, str]] = mapped_column(JSON)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    counter_id: Mapped[int | None] = mapped_column(ForeignKey("counters.id"))
    ticket_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    lead_time_s: Mapped[int | None] = mapped_column(Integer)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_notified_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Instruction(Base):
    """What the lobby manager asked a counter to do, and how its teller answered: kept, with its
    times, for the dashboard (an unanswered one is flagged) and the reports."""

    __tablename__ = "instructions"
    __table_args__ = (
        Index("ix_instructions_branch_issued", "branch_id", "issued_at"),
        Index("ix_instructions_counter_open", "counter_id", "answered_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"))
    counter_id: Mapped[int] = mapped_column(ForeignKey("counters.id"))
    teller_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))  # who sat there when it was sent
    kind: Mapped[str] = mapped_column(String(32))  # an instruction kind of server/vocabulary.py
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"))  # the alert it acts on, if any
    text: Mapped[str | None] = mapped_column(String(500))
    issued_by: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answer: Mapped[str | None] = mapped_column(String(16))  # done | cannot
    answer_text: Mapped[str | None] = mapped_column(String(500))
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Complaint(Base):
    """A complaint staff recorded, by kind (the six of the product brief, and other)."""

    __tablename__ = "complaints"
    __table_args__ = (Index("ix_complaints_branch_at", "branch_id", "recorded_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"))
    kind: Mapped[str] = mapped_column(String(32))  # a complaint kind of server/vocabulary.py
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    counter_id: Mapped[int | None] = mapped_column(ForeignKey("counters.id"))
    # For "the lobby and the counter said different things": the document or rule in question.
    subject: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(String(1000))
    recorded_by: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
