"""Fixtures: a fresh database per test on SQLite and PostgreSQL, the app, and an API helper.

Each backend gets one template database per session (schema migrated, branch synced, staff and
devices created, logged in); every test then starts from a copy of it, which keeps the suite fast
without sharing state between tests.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.support.pg import PgCluster, start_cluster

TESTS = Path(__file__).resolve().parent
TEST_CONFIG = TESTS / "branch.toml"
PASSWORD = "correct-horse-9"
PEOPLE = {
    "teller1": "teller",
    "teller2": "teller",
    "teller3": "teller",
    "teller4": "teller",
    "manager": "manager",
    "admin": "admin",
}
DEVICES = {"kiosk": "kiosk", "kiosk2": "kiosk", "display": "display"}
NO_SHOW_GRACE_S = 60  # [queue] no_show_grace_s, the default


def _reuse_url_builders() -> None:
    """Most tests build an app of their own (a fresh database each), and werkzeug compiles two URL
    builders from a syntax tree for each of its ~130 routes: 60% of ``create_app`` (47 of 78 ms), the
    largest cost of an API test. A builder depends only on its rule's shape (the rule's parts, its
    defaults and converters, whether unknown arguments are appended) and is bound to its rule when
    used, so the same shape compiles once per test process and every later app reuses it: the same
    code, compiled once. Servers the tests start in processes of their own compile theirs as usual."""
    from werkzeug.routing.rules import Rule

    compile_builder = Rule._compile_builder
    compiled: dict[Any, Any] = {}

    def reused(self: Rule, append_unknown: bool = True) -> Any:
        try:
            key = (tuple(self._trace), tuple(sorted((self.defaults or {}).items())),
                   tuple((name, type(converter)) for name, converter in self._converters.items()), append_unknown)
            builder = compiled.get(key)
        except TypeError:  # a default that cannot be a key: compile as werkzeug does
            return compile_builder(self, append_unknown)
        if builder is None:
            builder = compiled[key] = compile_builder(self, append_unknown)
        return builder

    Rule._compile_builder = reused  # type: ignore[method-assign]


_reuse_url_builders()


# --- parallel workers (make test: pytest-xdist, --dist loadgroup) -------------------------------------

# The modules that take longest, started first so that none is left running alone at the end.
SLOW_FIRST = (
    "tests/integration/",
    "tests/test_concurrency.py",
    "tests/test_startup.py",
    "tests/test_schemathesis.py",
    "tests/test_socket_limits.py",
    "tests/test_socket_revocation.py",
    "tests/test_bench_realtime.py",
    "tests/browser/test_display.py",
    "tests/test_property.py",
    "tests/test_simulator.py",
    "tests/test_simulator_weeks.py",
    "tests/browser/",
    "tests/test_durability.py",
    "tests/test_cli.py",
    "tests/test_realtime.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slowest modules first; each module keeps its own order."""

    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return next((i for i, prefix in enumerate(SLOW_FIRST) if path.startswith(prefix)), len(SLOW_FIRST))

    items.sort(key=rank)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadgroup``: a module with a module-scoped fixture (a server, a deployment) runs whole
    on one worker, in file order, so that the fixture is built once; every other test goes to
    whichever worker is free. (pytest-xdist's own grouping marks the node ids, which pytest 9 no
    longer lets a plugin change, so the groups are made here.)"""
    if config.getvalue("dist") != "loadgroup":
        return None
    from tests.support.workers import ModuleGroupScheduling

    return ModuleGroupScheduling(config, log)


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A redis-server of the test's own on a free port (skipped where Redis is not installed)."""
    from tests.integration.harness import RedisServer

    try:
        redis = RedisServer()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    redis.start()
    try:
        yield redis.url
    finally:
        redis.close()


# --- databases -----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster | str]:
    """A PostgreSQL for the session: CALLWISE_TEST_PG_URL, or a cluster started here."""
    if os.environ.get("CALLWISE_TEST_PG_URL"):
        yield os.environ["CALLWISE_TEST_PG_URL"]
        return
    try:
        cluster = start_cluster()
    except Exception as exc:  # noqa: BLE001 - any failure to start means "no PostgreSQL here"
        if os.environ.get("CALLWISE_REQUIRE_PG"):
            pytest.fail(f"PostgreSQL is required (CALLWISE_REQUIRE_PG) but could not start: {exc}")
        pytest.skip(f"PostgreSQL not available: {exc}")
    yield cluster
    cluster.stop("immediate")
    shutil.rmtree(cluster.data_dir.parent, ignore_errors=True)


def pg_admin_url(pg: PgCluster | str) -> str:
    return pg if isinstance(pg, str) else pg.url


def with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


# Each pytest-xdist worker builds its own templates: they share a PostgreSQL server only when
# CALLWISE_TEST_PG_URL names one, and then each needs template databases of its own names.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")


@dataclass
class Template:
    """What every copy of a template database contains (``database``: its PostgreSQL name)."""

    url: str
    tokens: dict[str, str]
    database: str = ""


def _build_template(url: str) -> dict[str, str]:
    from server import create_app
    from server.accounts import add_device, login, save_staff

    app = create_app(TEST_CONFIG, server={"database_url": url})
    rt = app.extensions["callwise"]
    tokens: dict[str, str] = {}
    for username, role in PEOPLE.items():
        save_staff(rt, username, role, PASSWORD, display_name=username.title())
        tokens[username] = login(rt, username, PASSWORD)["token"]
    for name, kind in DEVICES.items():
        tokens[name] = add_device(rt, name, kind)
    rt.db.dispose()  # SQLite checkpoints the WAL into the file when its last connection closes
    return tokens


class Templates:
    """Template databases, each built once per session by its builder (url -> tokens), on demand."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.built: dict[tuple[str, str], Template] = {}

    def get(self, name: str, build: Any, backend: str, request: pytest.FixtureRequest) -> Template:
        if (name, backend) not in self.built:
            if backend == "sqlite":
                url = f"sqlite:///{self.folder / f'{name}.db'}"
                self.built[name, backend] = Template(url=url, tokens=build(url))
            else:
                admin_url = pg_admin_url(request.getfixturevalue("pg_cluster"))
                database = f"{name}_{WORKER}".replace("-", "_")
                admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
                with admin.connect() as connection:
                    connection.execute(text(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
                    connection.execute(text(f"CREATE DATABASE {database}"))
                admin.dispose()
                url = with_database(admin_url, database)
                self.built[name, backend] = Template(url=url, tokens=build(url), database=database)
        return self.built[name, backend]


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Templates:
    return Templates(tmp_path_factory.mktemp("templates"))


@pytest.fixture(scope="session")
def sqlite_template(templates: Templates, request: pytest.FixtureRequest) -> Template:
    return templates.get("callwise_template", _build_template, "sqlite", request)


@pytest.fixture(scope="session")
def pg_template(templates: Templates, request: pytest.FixtureRequest) -> Template:
    return templates.get("callwise_template", _build_template, "postgresql", request)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


def copy_of(template: Template, backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Template]:
    """A database of ``backend`` copied from ``template``, dropped afterwards."""
    if backend == "sqlite":
        source = Path(template.url.removeprefix("sqlite:///"))
        target = tmp_path / "callwise.db"
        shutil.copyfile(source, target)
        assert not Path(f"{source}-wal").exists() or Path(f"{source}-wal").stat().st_size == 0
        yield Template(url=f"sqlite:///{target}", tokens=template.tokens)
        return
    cluster = request.getfixturevalue("pg_cluster")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_admin_url(cluster), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name} TEMPLATE {template.database}"))
    yield Template(url=with_database(pg_admin_url(cluster), name), tokens=template.tokens)
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture
def fresh_db(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Template]:
    """A database of ``backend`` copied from its template, dropped afterwards."""
    template = request.getfixturevalue("sqlite_template" if backend == "sqlite" else "pg_template")
    yield from copy_of(template, backend, request, tmp_path)


@pytest.fixture
def empty_db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of ``backend`` (no schema), dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path}/empty.db"
        return
    cluster = request.getfixturevalue("pg_cluster")
    name = f"e_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_admin_url(cluster), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    yield with_database(pg_admin_url(cluster), name)
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture
def app_factory(fresh_db: Template) -> Iterator[Any]:
    """Builds apps on the test's database; ``overrides`` are config sections."""
    from server import create_app

    made = []

    def make(**overrides: Any) -> Any:
        server = {"database_url": fresh_db.url, **overrides.pop("server", {})}
        app = create_app(TEST_CONFIG, server=server, **overrides)
        made.append(app)
        return app

    yield make
    for app in made:
        app.extensions["callwise"].db.dispose()


@pytest.fixture
def app(app_factory: Any) -> Any:
    return app_factory()


@pytest.fixture
def rt(app: Any) -> Any:
    """The app's runtime (config, database, manual clock)."""
    return app.extensions["callwise"]


@pytest.fixture
def clock(rt: Any) -> Any:
    return rt.clock


@pytest.fixture
def api(app: Any, fresh_db: Template) -> Api:
    return Api(app.test_client(), fresh_db.tokens)


class Api:
    """Calls the API as someone: ``api.post(path, who="teller1", json=...)``.

    ``who`` is a staff username, a device name (kiosk, kiosk2, display) or None for nobody.
    """

    def __init__(self, client: Any, tokens: dict[str, str]) -> None:
        self.client = client
        self.tokens = tokens

    def headers(self, who: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}

    def get(self, path: str, who: str | None = None, **kwargs: Any) -> Any:
        return self.client.get(f"/api/v1{path}", headers=self.headers(who), **kwargs)

    def post(self, path: str, who: str | None = None, **kwargs: Any) -> Any:
        headers = {**self.headers(who), **kwargs.pop("headers", {})}
        return self.client.post(f"/api/v1{path}", headers=headers, **kwargs)

    def issue(self, service: str = "A", who: str = "kiosk", **body: Any) -> dict[str, Any]:
        response = self.post("/tickets", who=who, json={"service": service, **body})
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def act(self, counter: int, action: str, who: str = "teller1", json: Any = None) -> Any:
        return self.post(f"/counters/{counter}/{action}", who=who, json=json)

    def ok(self, counter: int, action: str, who: str = "teller1", json: Any = None) -> dict[str, Any]:
        response = self.act(counter, action, who, json)
        assert response.status_code == 200, (action, response.get_json())
        return response.get_json()

    def open(self, counter: int, who: str) -> dict[str, Any]:
        return self.ok(counter, "open", who)

    def advance(self, seconds: float) -> dict[str, Any]:
        """Move the manual clock on (as the manager; every rule due by then runs first)."""
        response = self.post("/clock/advance", "manager", json={"seconds": seconds})
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def no_show(self, counter: int, who: str = "teller1") -> dict[str, Any]:
        """Record a no-show at ``counter`` once the grace after the call has passed."""
        self.advance(NO_SHOW_GRACE_S)
        return self.ok(counter, "no-show", who)

    def serve_one(self, counter: int, who: str, outcome: str = "done") -> dict[str, Any]:
        """Call, start and complete the next customer at ``counter``."""
        ticket = self.ok(counter, "call-next", who)
        self.ok(counter, "start", who)
        self.ok(counter, "complete", who, {"outcome": outcome})
        return ticket

    def ticket(self, token: str) -> dict[str, Any]:
        response = self.get(f"/tickets/{token}")
        assert response.status_code == 200
        return response.get_json()
