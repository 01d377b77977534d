"""Reading and validating config.toml.

The file is parsed with :mod:`tomllib` and validated with pydantic models that forbid unknown keys, so
a typo stops start-up instead of being silently ignored. Every error names the file and the key.
Secrets come from the environment first (``CALLWISE_SECRET_KEY``); a value in the file is only used
when the environment does not set one.
"""

from __future__ import annotations

import os
import re
import tomllib
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from server import vocabulary
from server.queueing.hours import WEEKDAYS, Hours

# The codes of server/vocabulary.py's lists, kept importable from here (the queueing service and
# the simulator check pause reasons against this tuple).
SUPPORTED_LANGUAGES = vocabulary.LANGUAGES
PAUSE_REASONS = vocabulary.PAUSE_REASONS.codes
SERVICE_KINDS = vocabulary.SERVICE_KINDS.codes
MAX_COUNTER_NUMBER = 999  # also bounds counter numbers in API paths and bodies
Language = Literal[SUPPORTED_LANGUAGES]  # type: ignore[valid-type]
ServiceKind = vocabulary.SERVICE_KINDS.literal()


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]  # server/queueing/hours.py WEEKDAYS


class ConfigError(Exception):
    """The configuration file is missing, unreadable or invalid; the message names file and key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# A text shown to people: either one string for every language or {"zh": ..., "en": ...}.
Localized = dict[str, str]


class BranchConfig(_Strict):
    code: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
    name: str | Localized
    timezone: str = "Asia/Shanghai"
    languages: list[Language] = Field(default_factory=lambda: list(SUPPORTED_LANGUAGES), min_length=1)
    opening_time: time = time(9, 0)
    closing_time: time = time(17, 0)
    # No ticket from this time on (default: 15 minutes before closing): the hall can still be served.
    last_ticket_time: time | None = None
    open_days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS), min_length=1)  # type: ignore[arg-type]
    closed_dates: list[date] = Field(default_factory=list)  # holidays

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


def _hours_of(branch: BranchConfig) -> Hours:
    last = branch.last_ticket_time or (datetime.combine(date(2000, 1, 3), branch.closing_time)
                                       - timedelta(minutes=15)).time()
    return Hours(opening=branch.opening_time, closing=branch.closing_time, last_ticket=last,
                 open_days=frozenset(branch.open_days), closed_dates=frozenset(branch.closed_dates),
                 tz=ZoneInfo(branch.timezone))


class ServerConfig(_Strict):
    mode: Literal["demo", "production"] = "demo"
    database_url: str = "sqlite:///instance/callwise.db"
    message_queue: str = ""
    public_url: str = "http://127.0.0.1:5000"
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 5000
    secret_key: str = ""
    async_mode: Literal["gevent", "threading"] = "gevent"
    auto_migrate: bool = True
    token_lifetime_hours: Annotated[int, Field(ge=1, le=24 * 30)] = 12
    rate_limit_storage: str = "memory://"
    # How many reverse proxies (nginx) sit in front: their X-Forwarded-For/-Proto are then trusted,
    # so rate limits count real client addresses. 0 when clients connect directly.
    proxy_count: Annotated[int, Field(ge=0, le=5)] = 0

    @field_validator("database_url")
    @classmethod
    def _a_database_callwise_runs_on(cls, value: str) -> str:
        """A URL SQLAlchemy can read, for SQLite or PostgreSQL: anything else fails here, in one line,
        rather than deep inside start-up (issue 16, finding 9)."""
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            backend = make_url(value).get_backend_name()
        except ArgumentError:
            raise ValueError("not a database URL; use e.g. sqlite:///instance/callwise.db or "
                             "postgresql+psycopg://callwise@127.0.0.1/callwise") from None
        if backend not in ("sqlite", "postgresql"):
            raise ValueError(f"Callwise runs on SQLite or PostgreSQL, not {backend!r}; "
                             "use sqlite:///... or postgresql+psycopg://...")
        return value

    @field_validator("public_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        if not re.match(r"^https?://", value):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


class ClockConfig(_Strict):
    mode: Literal["system", "manual"] = "system"
    start: datetime | None = None

    @field_validator("start")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("needs a UTC offset, e.g. 2026-11-30T09:00:00+08:00")
        return value


class AlertConfig(_Strict):
    idle_counter_warning_s: Annotated[int, Field(gt=0)] = 60
    idle_counter_critical_s: Annotated[int, Field(gt=0)] = 180
    short_queue_max_ahead: Annotated[int, Field(ge=0)] = 2
    short_queue_complaint_s: Annotated[int, Field(gt=0)] = 600
    short_queue_early_share: Annotated[float, Field(gt=0, lt=1)] = 0.6
    eta_broken_factor: Annotated[float, Field(ge=1)] = 1.5
    eta_broken_min_s: Annotated[int, Field(ge=0)] = 300
    paused_ratio: Annotated[float, Field(gt=0, le=1)] = 0.5
    paused_ratio_after_s: Annotated[int, Field(ge=0)] = 300
    # Per pause reason (server/vocabulary.py); a reason without a limit here gets other's.
    long_pause_s: dict[str, Annotated[int, Field(gt=0)]] = Field(
        default_factory=lambda: {"break": 900, "meeting": 1800, "cash_replenish": 600, "lunch": 3600,
                                 "other": 600}
    )
    service_overrun_factor: Annotated[float, Field(gt=1)] = 2.0
    service_overrun_min_samples: Annotated[int, Field(ge=1)] = 5
    service_overrun_critical_factor: Annotated[float, Field(gt=1)] = 3.0
    service_level_default_target_s: Annotated[int, Field(gt=0)] = 1200
    service_level_critical_factor: Annotated[float, Field(gt=1)] = 1.5
    # People wait for a service that no open counter serves, during opening hours: warning after this
    # long (from the later of the opening and the first such customer), critical at three times it.
    unstaffed_service_s: Annotated[int, Field(ge=0)] = 120
    help_critical_s: Annotated[int, Field(gt=0)] = 120
    # eta_broken, paused_ratio and long_pause turn critical when their measure reaches this multiple
    # of the warning threshold (e.g. a break twice as long as its limit).
    critical_after_factor: Annotated[float, Field(gt=1)] = 2.0
    tick_s: Annotated[float, Field(gt=0)] = 2.0
    renotify_critical_s: Annotated[int, Field(gt=0)] = 300
    # A warning whose alert resolved less than this long ago does not come back as a new card (a
    # critical one does): the same story flickering across a threshold is one card, not several.
    reopen_holdoff_s: Annotated[int, Field(ge=0)] = 300
    # An instruction to a counter not answered within this long is flagged on the dashboard.
    instruction_answer_s: Annotated[int, Field(gt=0)] = 60
    # A rating of this many stars or fewer raises low_rating, shown for this long (the customer may
    # still be in the hall: the manager can follow up at once).
    low_rating_max_stars: Annotated[int, Field(ge=0, le=4)] = 2
    low_rating_show_s: Annotated[int, Field(gt=0)] = 1800

    @field_validator("long_pause_s")
    @classmethod
    def _known_reasons(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(value) - set(PAUSE_REASONS))
        if unknown:
            raise ValueError(f"unknown pause reason {unknown[0]!r} (known: {', '.join(PAUSE_REASONS)})")
        return value


class LimitsConfig(_Strict):
    kiosk_tickets_per_minute: Annotated[int, Field(gt=0)] = 30
    login_attempts_per_minute: Annotated[int, Field(gt=0)] = 10
    # Failed log-ins per username per 15 minutes, from any address (server/limits.py says why a
    # slowing window and not a lock-out).
    login_failures_per_account_per_15_minutes: Annotated[int, Field(gt=0)] = 10
    # Socket.IO, per connection and per address (server/socket_limits.py says why these numbers).
    socket_packets_per_second: Annotated[float, Field(gt=0, le=1000)] = 10
    socket_packet_burst: Annotated[int, Field(ge=1, le=10000)] = 30
    socket_flood_close_s: Annotated[float, Field(gt=0, le=3600)] = 5
    sockets_per_address: Annotated[int, Field(ge=0)] = 100
    socket_connect_timeout_s: Annotated[float, Field(gt=0, le=300)] = 10
    snapshot_interval_s: Annotated[float, Field(ge=0, le=60)] = 2
    # How often each server process checks its sockets' credentials (revoked, expired, disabled).
    socket_credential_check_s: Annotated[float, Field(gt=0, le=300)] = 2


class DisplayConfig(_Strict):
    # The lobby display shows its idle screen once no call has been made for this long.
    idle_after_s: Annotated[int, Field(ge=30, le=24 * 3600)] = 600
    # Who speaks the calls: "auto" (the browser's voice for a language if it has one, else the
    # server's espeak-ng), "browser" only, "server" only, or "off" (chime and text only).
    voice: Literal["auto", "browser", "server", "off"] = "auto"


class RetentionConfig(_Strict):
    # Events older than this many days leave the database (0: keep them all, the default).
    events_days: Annotated[int, Field(ge=0)] = 0
    # "archive": written to a gzipped JSON Lines file per month under archive_dir first; "delete": just removed.
    events_action: Literal["archive", "delete"] = "archive"
    archive_dir: str = "instance/archive"


class QueueConfig(_Strict):
    policy: Literal["fifo", "at_risk_first"] = "at_risk_first"
    # Under at_risk_first, a short-queue warning puts its queue first once its ticket has waited this
    # long: the warning itself often comes at issue, from a projection, long before a detour is needed.
    at_risk_after_s: Annotated[int, Field(ge=0, le=3600)] = 180
    # Service times: a moving average over the last `window` finished tickets of the day, blended
    # with the configured expected minutes until `min_samples` of them exist.
    service_time_window: Annotated[int, Field(ge=1, le=500)] = 20
    service_time_min_samples: Annotated[int, Field(ge=1, le=500)] = 5
    # Take the day's measured bias out of the estimates (server/queueing/estimate.py calibration).
    calibrate_estimates: bool = True
    # Priority customers (elderly, disabled, pregnant) go before the normal tickets of their service;
    # below 1.0, at most this share of a service's latest calls go to a priority ticket while normal
    # ones wait (server/queueing/policy.py priority_may_go_first), so nobody else stands still.
    priority_share: Annotated[float, Field(ge=0, le=1)] = 1.0
    # A no-show is accepted only this long after the call: the customer has to hear it and walk up.
    no_show_grace_s: Annotated[int, Field(ge=0, le=900)] = 60
    # A counter's last complete or no-show can be undone for this long (a wrong key).
    undo_window_s: Annotated[int, Field(ge=0, le=600)] = 60


class ServiceConfig(_Strict):
    code: Annotated[str, Field(pattern=r"^[A-Z]{1,2}$")]
    name: Localized
    kind: ServiceKind  # type: ignore[valid-type]
    expected_minutes: Annotated[float, Field(gt=0, le=480)]
    documents: list[Localized] = Field(default_factory=list)
    notes: Localized | None = None
    target_wait_minutes: Annotated[float, Field(gt=0)] | None = None


class CounterConfig(_Strict):
    number: Annotated[int, Field(ge=1, le=MAX_COUNTER_NUMBER)]
    services: Annotated[list[str], Field(min_length=1)]
    name: Localized | None = None


class BranchSpec(_Strict):
    """Everything about one branch: who it is, what it offers, and its thresholds (the file's
    ``[alerts]`` and ``[queue]``, with the branch's own overrides applied)."""

    branch: BranchConfig
    services: list[ServiceConfig]
    counters: list[CounterConfig]
    alerts: AlertConfig = AlertConfig()
    queue: QueueConfig = QueueConfig()

    @property
    def code(self) -> str:
        return self.branch.code

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.branch.timezone)

    @property
    def hours(self) -> Hours:
        """Opening, last ticket, closing, open days and holidays (server/queueing/hours.py)."""
        return _hours_of(self.branch)

    @property
    def languages(self) -> list[str]:
        return list(self.branch.languages)

    def service(self, code: str) -> ServiceConfig | None:
        return next((s for s in self.services if s.code == code), None)


class _BranchEntry(BranchConfig):
    """One ``[[branches]]`` table of a many-branch file."""

    services: Annotated[list[ServiceConfig], Field(min_length=1)]
    counters: Annotated[list[CounterConfig], Field(min_length=1)]
    alerts: dict[str, Any] = Field(default_factory=dict)  # overrides of the file's [alerts]
    queue: dict[str, Any] = Field(default_factory=dict)  # overrides of the file's [queue]


class _CommonFile(_Strict):
    server: ServerConfig = ServerConfig()
    clock: ClockConfig = ClockConfig()
    alerts: AlertConfig = AlertConfig()
    limits: LimitsConfig = LimitsConfig()
    queue: QueueConfig = QueueConfig()
    retention: RetentionConfig = RetentionConfig()
    display: DisplayConfig = DisplayConfig()


class _OneBranchFile(_CommonFile):
    branch: BranchConfig
    services: Annotated[list[ServiceConfig], Field(min_length=1)]
    counters: Annotated[list[CounterConfig], Field(min_length=1)]


class _ManyBranchFile(_CommonFile):
    branches: Annotated[list[_BranchEntry], Field(min_length=1)]


class Config(_Strict):
    """The whole validated config.toml. ``source`` is the file it came from (for messages).

    ``branches`` holds every branch; ``branch``, ``services``, ``counters``, ``alerts`` and
    ``queue`` are the first branch's, which is the whole story for the common one-branch file.
    """

    server: ServerConfig
    clock: ClockConfig
    limits: LimitsConfig
    retention: RetentionConfig = RetentionConfig()
    display: DisplayConfig = DisplayConfig()
    branches: list[BranchSpec]
    source: str = Field(default="<memory>", exclude=True)

    @property
    def first(self) -> BranchSpec:
        return self.branches[0]

    @property
    def branch(self) -> BranchConfig:
        return self.first.branch

    @property
    def services(self) -> list[ServiceConfig]:
        return self.first.services

    @property
    def counters(self) -> list[CounterConfig]:
        return self.first.counters

    @property
    def alerts(self) -> AlertConfig:
        return self.first.alerts

    @property
    def queue(self) -> QueueConfig:
        return self.first.queue

    @property
    def tz(self) -> ZoneInfo:
        return self.first.tz

    @property
    def hours(self) -> Hours:
        return self.first.hours

    def service(self, code: str) -> ServiceConfig | None:
        return self.first.service(code)

    def spec(self, code: str) -> BranchSpec | None:
        return next((b for b in self.branches if b.code == code), None)

    @property
    def secret_key(self) -> str:
        """The secret key: ``CALLWISE_SECRET_KEY`` wins over the file; empty when neither sets one."""
        return os.environ.get("CALLWISE_SECRET_KEY") or self.server.secret_key


def default_config_path() -> Path:
    """``$CALLWISE_CONFIG``, else ``./config.toml``."""
    return Path(os.environ.get("CALLWISE_CONFIG") or "config.toml")


def load_config(path: str | os.PathLike[str] | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Read, merge ``overrides`` into (section by section) and validate a config file.

    Raises :class:`ConfigError` whose message names the file and the offending key.
    """
    file = Path(path) if path is not None else default_config_path()
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{file}: file not found (set --config or CALLWISE_CONFIG)") from None
    except OSError as exc:  # a folder, or not readable by this user
        raise ConfigError(f"{file}: cannot read the config file: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    return config_from_dict(raw, source=str(file), overrides=overrides)


def config_from_dict(raw: dict[str, Any], source: str = "<memory>", overrides: dict[str, Any] | None = None) -> Config:
    """Validate an already-parsed config; see :func:`load_config`.

    A file describes one branch (``[branch]`` with ``[[services]]`` and ``[[counters]]``) or many
    (``[[branches]]``, each with its own ``[[branches.services]]``, ``[[branches.counters]]`` and
    optional ``[branches.alerts]`` / ``[branches.queue]`` overrides of the file's sections).
    """
    data = _merge(raw, overrides or {})
    many = "branches" in data
    if many and any(key in data for key in ("branch", "services", "counters")):
        raise ConfigError(f"{source}: branches: use either [branch] with [[services]] and [[counters]], "
                          "or [[branches]], not both")
    try:
        if many:
            parsed: _CommonFile = _ManyBranchFile.model_validate(data)
        else:
            parsed = _OneBranchFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = _dotted(first["loc"])
        raise ConfigError(f"{source}: {key}: {first['msg']}") from None
    if isinstance(parsed, _OneBranchFile):
        specs = [(BranchSpec(branch=parsed.branch, services=parsed.services, counters=parsed.counters,
                             alerts=parsed.alerts, queue=parsed.queue), "")]
    else:
        assert isinstance(parsed, _ManyBranchFile)
        specs = []
        for i, entry in enumerate(parsed.branches):
            prefix = f"branches[{i}]."
            alerts = _section(AlertConfig, parsed.alerts, entry.alerts, f"{source}: {prefix}alerts")
            queue = _section(QueueConfig, parsed.queue, entry.queue, f"{source}: {prefix}queue")
            branch = BranchConfig.model_validate(entry.model_dump(include=set(BranchConfig.model_fields)))
            specs.append((BranchSpec(branch=branch, services=entry.services, counters=entry.counters,
                                     alerts=alerts, queue=queue), prefix))
    codes = [spec.code for spec, _ in specs]
    for i, code in enumerate(codes):
        if code in codes[:i]:
            raise ConfigError(f"{source}: branches[{i}].code: duplicate branch code {code!r}")
    config = Config(server=parsed.server, clock=parsed.clock, limits=parsed.limits, retention=parsed.retention,
                    display=parsed.display,
                    branches=[spec for spec, _ in specs], source=source)
    for spec, prefix in specs:
        _check_branch(spec, source, prefix)
    _check_server(config, source)
    return config


def _section(model: Any, defaults: BaseModel, override: dict[str, Any], where: str) -> Any:
    """A branch's [alerts] or [queue]: the file's, with the branch's own keys on top."""
    try:
        return model.model_validate({**defaults.model_dump(), **override})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"{where}.{_dotted(first['loc'])}: {first['msg']}") from None


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _check_branch(spec: BranchSpec, source: str, prefix: str = "") -> None:
    languages = spec.branch.languages

    def fail(key: str, message: str) -> None:
        raise ConfigError(f"{source}: {prefix}{key}: {message}")

    def need_languages(text: Any, key: str) -> None:
        if isinstance(text, dict):
            missing = [lang for lang in languages if not text.get(lang)]
            if missing:
                fail(key, f"missing the {missing[0]!r} text")

    need_languages(spec.branch.name, "branch.name" if not prefix else "name")
    where = "branch." if not prefix else ""
    hours = spec.hours
    if not hours.opening < hours.closing:
        fail(f"{where}closing_time", "must be after opening_time")
    if not hours.opening < hours.last_ticket <= hours.closing:
        fail(f"{where}last_ticket_time", "must be after opening_time and not after closing_time")
    seen: set[str] = set()
    for i, service in enumerate(spec.services):
        if service.code in seen:
            fail(f"services[{i}].code", f"duplicate service code {service.code!r}")
        seen.add(service.code)
        need_languages(service.name, f"services[{i}].name")
        for j, document in enumerate(service.documents):
            need_languages(document, f"services[{i}].documents[{j}]")
        if service.notes is not None:
            need_languages(service.notes, f"services[{i}].notes")
    numbers: set[int] = set()
    for i, counter in enumerate(spec.counters):
        if counter.number in numbers:
            fail(f"counters[{i}].number", f"duplicate counter number {counter.number}")
        numbers.add(counter.number)
        for j, code in enumerate(counter.services):
            if code not in seen:
                fail(f"counters[{i}].services[{j}]", f"unknown service {code!r} (known: {', '.join(sorted(seen))})")
        if len(set(counter.services)) != len(counter.services):
            fail(f"counters[{i}].services", "a service is listed twice")
    if spec.alerts.idle_counter_critical_s < spec.alerts.idle_counter_warning_s:
        fail("alerts.idle_counter_critical_s", "must not be below idle_counter_warning_s")
    if spec.alerts.service_overrun_critical_factor <= spec.alerts.service_overrun_factor:
        fail("alerts.service_overrun_critical_factor", "must exceed service_overrun_factor")
    if spec.queue.service_time_min_samples > spec.queue.service_time_window:
        fail("queue.service_time_min_samples", "must not exceed service_time_window")


# The secret key signs the staff session cookie and derives CSRF tokens: a short one can be guessed
# offline from one cookie. 32 characters of `python -c "import secrets; print(secrets.token_hex(32))"`
# (64) are far beyond that; 32 is the least accepted in production.
MIN_SECRET_KEY_LENGTH = 32


def _check_server(config: Config, source: str) -> None:
    if config.server.mode == "production" and not config.secret_key:
        raise ConfigError(
            f"{source}: server.secret_key: production mode needs a secret key; "
            "set CALLWISE_SECRET_KEY in the environment"
        )
    if config.server.mode == "production" and len(config.secret_key) < MIN_SECRET_KEY_LENGTH:
        where = "CALLWISE_SECRET_KEY" if os.environ.get("CALLWISE_SECRET_KEY") else "server.secret_key"
        raise ConfigError(
            f"{source}: server.secret_key: the secret key ({where}) has {len(config.secret_key)} characters; "
            f"production needs at least {MIN_SECRET_KEY_LENGTH}: make one with "
            "python -c \"import secrets; print(secrets.token_hex(32))\""
        )
    if config.server.mode == "production" and config.clock.mode == "manual":
        raise ConfigError(f"{source}: clock.mode: the manual clock is for tests and simulation, not production")
