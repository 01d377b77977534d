"""``python -m server``: the command line of API.md ("Running it")."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from server.config import ConfigError, load_config
from server.errors import CallwiseError

config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), default=None,
    help="config file (default: $CALLWISE_CONFIG, then ./config.toml)",
)


def _load(config_path: str | None, overrides: dict[str, Any] | None = None) -> Any:
    try:
        return load_config(config_path, overrides)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@contextmanager
def _runtime(config_path: str | None) -> Iterator[Any]:
    """A runtime for one command; its database connections are closed when the command ends (the
    CLI also runs in-process, in tests)."""
    from server.bootstrap import open_runtime

    config = _load(config_path)
    with _starting(config):  # a database that is away or read-only: one line, not a traceback
        rt = open_runtime(config)
    if config.server.message_queue:
        _tell_servers_of_ended_credentials(rt, config.server.message_queue)
    try:
        yield rt
    finally:
        rt.db.dispose()


def _tell_servers_of_ended_credentials(rt: Any, message_queue: str) -> None:
    """A command that ends a credential (``staff disable``, ``reset-password``, ``device revoke``,
    ``device add`` of an existing device, ``staff add`` of an existing account) tells the servers on
    the message queue, which end its sockets and cached token at once rather than at their next
    periodic check (server/accounts.py ``TokenCache``)."""
    from server.accounts import CREDENTIAL_HOOKS

    def tell(**ended: int | None) -> None:
        from server.realtime import tell_servers

        tell_servers(message_queue, **ended)

    rt.caches.setdefault(CREDENTIAL_HOOKS, []).append(tell)


@click.group()
def main() -> None:
    """Callwise: queue calling for bank branches."""


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@config_option
def db_upgrade(config_path: str | None) -> None:
    """Create or migrate the database to the newest schema."""
    from server import migrate
    from server.bootstrap import open_runtime, resolve_database_url
    from server.db import Database

    config = _load(config_path)
    with _starting(config):
        database = Database(resolve_database_url(config))
        before = migrate.current_revision(database.engine)
        migrate.upgrade(database.engine)
        database.dispose()
        open_runtime(config).db.dispose()  # sync the branch, services and counters from the config
    click.echo(f"database at revision {migrate.head_revision()} (was {before or 'empty'})")


@db.command("downgrade")
@click.argument("revision")
@config_option
def db_downgrade(revision: str, config_path: str | None) -> None:
    """Migrate back to REVISION ('base' removes every table)."""
    from server import migrate
    from server.bootstrap import resolve_database_url
    from server.db import Database

    database = Database(resolve_database_url(_load(config_path)))
    migrate.downgrade(database.engine, revision)
    click.echo(f"database at revision {migrate.current_revision(database.engine) or 'base'}")
    database.dispose()


@db.command("current")
@config_option
def db_current(config_path: str | None) -> None:
    """Print the database's revision and the newest one."""
    from server import migrate
    from server.bootstrap import resolve_database_url
    from server.db import Database

    database = Database(resolve_database_url(_load(config_path)))
    click.echo(f"current: {migrate.current_revision(database.engine) or 'empty'}  head: {migrate.head_revision()}")
    database.dispose()


@contextmanager
def _starting(config: Any, *, listen: tuple[str, int] | None = None) -> Iterator[None]:
    """Start-up steps: a failure of a known kind ends the command with one line and exit code 1
    (server/startup.py), not a traceback."""
    from server.bootstrap import resolve_database_url
    from server.startup import StartupError, explained

    try:
        with explained(config, resolve_database_url(config), listen=listen):
            yield
    except (StartupError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from None


def _prepare(config: Any) -> None:
    """Before anything opens the database: its URL is one Callwise runs on, a SQLite folder is
    writable, and no other server serves the same SQLite file without a message queue."""
    from server.bootstrap import instance_dir, private_folder, resolve_database_url
    from server.startup import check_database_url, check_sqlite_folder, hold_serve_lock

    url = resolve_database_url(config)
    check_database_url(url)
    check_sqlite_folder(url)
    if instance_dir(config).is_dir():
        # One an older version made readable by everyone; a folder on a read-only file system
        # (systemd's ProtectSystem=strict for /etc) stays as it is rather than stopping the start.
        with contextlib.suppress(OSError):
            private_folder(instance_dir(config))
    hold_serve_lock(config, url)


@main.command()
@config_option
@click.option("--host", default=None, help="address to listen on (default: [server] host)")
@click.option("--port", type=int, default=None, help="port (default: [server] port)")
@click.option("--database", type=click.Path(dir_okay=False), default=None,
              help="serve this SQLite file instead of [server] database_url, e.g. one simulate-weeks filled "
                   "(its demo log-ins are kept in instance/<file name>-credentials.json)")
@click.option("--at", default=None, metavar="TIME",
              help="a branch clock standing still at TIME (e.g. 2026-12-06T17:30:00+08:00) instead of [clock]: "
                   "to look at a simulated history as of its last day (demo mode only)")
def serve(config_path: str | None, host: str | None, port: int | None, database: str | None, at: str | None) -> None:
    """Run the web and Socket.IO server (migrating the database first if it is behind)."""
    overrides = _serving(database, at)
    config = _load(config_path, overrides)
    with _starting(config):
        _prepare(config)
        app, credentials = _open_app(config_path, overrides, config)
    _run(app, host or config.server.host, port or config.server.port, credentials)


def _serving(database: str | None, at: str | None) -> dict[str, Any]:
    """Config overrides for ``serve --database --at``: another SQLite file, a clock standing still."""
    from pathlib import Path

    overrides: dict[str, Any] = {}
    if database is not None:
        overrides["server"] = {"database_url": f"sqlite:///{Path(database).resolve()}"}
    if at is not None:
        overrides["clock"] = {"mode": "manual", "start": at}
    return overrides


def _open_app(config_path: str | None, overrides: dict[str, Any], config: Any) -> tuple[Any, dict[str, Any] | None]:
    """The app (migrating the database), and in demo mode the demo log-ins: kept in
    instance/demo-credentials.json for the config's database, in instance/<name>-credentials.json
    for another one (one file per database: a device's token cannot be chosen)."""
    from pathlib import Path

    from server.app import create_app
    from server.bootstrap import resolve_database_url
    from server.demo import ensure_demo_accounts
    from server.startup import sqlite_path

    app = create_app(config_path, **overrides)
    if config.server.mode != "demo":
        return app, None
    runtime = app.extensions["callwise"]
    path = sqlite_path(resolve_database_url(config)) if "server" in overrides else None
    if path is None or path == sqlite_path(resolve_database_url(_load(config_path))):
        return app, ensure_demo_accounts(runtime)
    return app, ensure_demo_accounts(runtime, f"{Path(path).stem}-credentials.json")


def _listen(app: Any, host: str, port: int) -> Any:
    """The server for ``app``, already listening on ``host:port`` (so that a busy port fails before
    anything is printed): gevent's pywsgi with server/wsgi.py's handler, as Flask-SocketIO's ``run``
    builds it, or werkzeug's threaded server in threading mode."""
    from server.realtime import socketio

    runtime = app.extensions["callwise"]
    if runtime.config.server.async_mode == "threading":
        from werkzeug.serving import make_server

        return make_server(host, port, app, threaded=True)
    from gevent import pywsgi

    from server.wsgi import NoDelayHandler

    server = pywsgi.WSGIServer((host, port), app, handler_class=NoDelayHandler, log=None)
    server.init_socket()
    socketio.wsgi_server = server  # where Flask-SocketIO (and stop_on_signals) look for it
    return server


def _run(app: Any, host: str, port: int, credentials: dict[str, Any] | None, *, before: Any = None) -> None:
    """Serve ``app``: listen first, then this process's alert sweeper (when it holds the lock), the
    banner (only once the port is ours), the server."""
    from server.demo import banner
    from server.leader import SweepLeader
    from server.maintenance import Housekeeping
    from server.realtime import CredentialWatch, Heartbeat, socketio

    runtime = app.extensions["callwise"]
    with _starting(runtime.config, listen=(host, port)):
        server = _listen(app, host, port)
    leader = SweepLeader(runtime.db.engine)
    runtime.alerts.may_sweep = leader.is_leader
    runtime.alerts.sweeper_tasks.append(Heartbeat(runtime))
    runtime.alerts.sweeper_tasks.append(Housekeeping(runtime))
    runtime.alerts.start_background(socketio.start_background_task, socketio.sleep)
    CredentialWatch(runtime).start(socketio.start_background_task, socketio.sleep)  # every process
    click.echo(banner(runtime, credentials, f"http://{host}:{port}"))
    sys.stdout.flush()
    if before is not None:
        before()
    if runtime.config.server.async_mode != "threading":
        from server.wsgi import freeze_startup_heap, stop_on_signals

        stop_on_signals(socketio)
        freeze_startup_heap()
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    runtime.alerts.stop()
    leader.release()
    click.echo("Callwise stopped.")


@main.command()
@config_option
@click.option("--speed", type=click.FloatRange(min=1), default=30.0, show_default=True,
              help="simulated seconds per real second")
@click.option("--seed", type=int, default=1, show_default=True, help="which simulated day")
@click.option("--host", default=None, help="address to listen on (default: [server] host)")
@click.option("--port", type=int, default=None, help="port (default: [server] port)")
def demo(config_path: str | None, speed: float, seed: int, host: str | None, port: int | None) -> None:
    """Serve the demo branch with simulated customers and tellers working it through the API, on a
    branch clock that runs SPEED times faster, from today's opening (make demo). Open the kiosk,
    display and manager pages it prints and watch the day go by; its data is a separate database
    (instance/demo-day.db), made afresh at every start."""
    from datetime import datetime, timedelta
    from pathlib import Path

    from server.app import create_app
    from server.bootstrap import instance_dir
    from server.config import load_config
    from server.demo import ensure_demo_accounts
    from server.realtime import socketio
    from server.simulator.live import drive

    config = _load(config_path)
    if config.server.mode != "demo":
        raise click.ClickException(f'{config.source}: server.mode: the demo runs only in mode = "demo"')
    host, port = host or config.server.host, port or config.server.port
    database = instance_dir(config) / "demo-day.db"
    day_config = {"database_url": f"sqlite:///{database}"}
    with _starting(config):
        # Its own lock first: a second demo must not delete the database the first one is serving.
        _prepare(load_config(config_path, {"server": day_config}))
        for leftover in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
            leftover.unlink(missing_ok=True)
        today = datetime.now(config.tz).date()
        opening = datetime.combine(today, config.branch.opening_time, config.tz) - timedelta(minutes=5)
        app = create_app(config_path, server=day_config, clock={"mode": "manual", "start": opening.isoformat()})
        runtime = app.extensions["callwise"]
        credentials = ensure_demo_accounts(runtime, "demo-day-credentials.json")
    base_url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"

    def start_driver() -> None:
        socketio.start_background_task(drive, runtime, base_url, credentials["staff"]["manager"], seed=seed,
                                       speed=speed)

    _run(app, host, port, credentials, before=start_driver)


@main.command()
@config_option
@click.option("--to", "destination", type=click.Path(), default=None,
              help="file or folder to write (default: instance/backups/)")
def backup(config_path: str | None, destination: str | None) -> None:
    """Copy the SQLite database while the server runs (for PostgreSQL, use pg_dump). The copy and the
    backups folder are readable by their owner only."""
    from pathlib import Path

    from server.bootstrap import instance_dir, private_folder, resolve_database_url
    from server.maintenance import BackupFailed, backup_sqlite

    config = _load(config_path)
    target = Path(destination) if destination else instance_dir(config) / "backups"
    try:
        if not destination:
            private_folder(target)
        written = backup_sqlite(resolve_database_url(config), target)
    except (ValueError, BackupFailed) as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        from server.startup import explain

        raise click.ClickException(explain(exc, resolve_database_url(config)) or str(exc)) from None
    click.echo(f"backup written: {written}")


@main.group("demo-accounts")
def demo_accounts() -> None:
    """The accounts and devices demo mode made (production refuses to start while they work)."""


@demo_accounts.command("remove")
@config_option
def demo_accounts_remove(config_path: str | None) -> None:
    """Disable demo mode's staff accounts and revoke its devices for good (renamed demo-removed-...,
    unknown passwords and tokens), and delete instance/demo-credentials.json and
    demo-day-credentials.json. Run it before switching a database that ran in demo mode to
    mode = "production"."""
    from server.demo import remove_demo_accounts

    config = _load(config_path)
    with _runtime(config_path) as rt:
        removed = remove_demo_accounts(rt)
    for kind, label in (("staff", "staff accounts disabled"), ("devices", "devices revoked")):
        click.echo(f"{len(removed[kind])} demo {label}" + (f": {', '.join(removed[kind])}" if removed[kind] else ""))
    for path in removed["files"]:
        click.echo(f"deleted {path}")
    if config.server.mode == "demo":
        click.echo('note: mode = "demo" makes new demo accounts at the next start; set mode = "production"')


@main.command()
@click.option("--seed", type=int, default=1, show_default=True, help="the same seed gives the same day")
@click.option("--policy", type=click.Choice(["at_risk_first", "fifo"]), default="at_risk_first", show_default=True,
              help="call-next order")
@click.option("--no-manager", is_flag=True, help="the baseline: no lobby manager at all")
@click.option("--manager-without-alerts", is_flag=True,
              help="the fair baseline: the same manager answering help requests and walking the hall, no alerts")
@click.option("--slow-manager", is_flag=True,
              help="a manager half as attentive and twice as slow (with --manager-without-alerts too)")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, exists=True), default=None,
              help="branch to simulate (default: the busy eight-counter branch of server/simulator/busy_branch.toml)")
@click.option("--tickets", type=float, default=None, help="expected customers over the day (default 600)")
@click.option("--tick", "tick_s", type=float, default=None,
              help="simulated seconds between alert sweeps (default 10; a server sweeps every 2)")
@click.option("--world", "world_pairs", multiple=True, metavar="KEY=VALUE",
              help="change one parameter of the simulated world (server/simulator/world.py), "
                   "e.g. slow_teller_share=0.5")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None, help="write the results here")
@click.option("--plot", "plot_dir", type=click.Path(file_okay=False), default=None, help="write PNG charts here")
@click.option("--quiet", is_flag=True, help="no progress bar")
def simulate(seed: int, policy: str, no_manager: bool, manager_without_alerts: bool, slow_manager: bool,
             config_path: str | None, tickets: float | None, tick_s: float | None, world_pairs: tuple[str, ...],
             json_path: str | None, plot_dir: str | None, quiet: bool) -> None:
    """Simulate a branch day on the real domain and alert engine; count the complaints."""
    import json

    from server.simulator.report import plot, summary_text
    from server.simulator.run import Simulation
    from server.simulator.world import World

    try:
        world = World.from_pairs(list(world_pairs))
    except (ValueError, TypeError) as exc:
        raise click.BadParameter(str(exc), param_hint="--world") from None
    if tickets is not None:
        world.tickets = tickets
    if no_manager and manager_without_alerts:
        raise click.UsageError("--no-manager or --manager-without-alerts, not both")
    if slow_manager:
        world.manager_react_chance /= 2
        world.manager_slowness *= 2
    mode = "none" if no_manager else "walk" if manager_without_alerts else "alerts"
    try:
        simulation = Simulation(seed=seed, policy=policy, manager=mode, world=world,
                                config_path=config_path, tick_s=tick_s)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        if quiet:
            result = simulation.run()
        else:
            with click.progressbar(length=int(simulation.day_s), label="simulating the day", file=sys.stderr,
                                   show_eta=False) as bar:
                simulation.progress = lambda seconds: bar.update(int(seconds))
                result = simulation.run()
    finally:
        simulation.close_database()
    click.echo(summary_text(result.summary))
    if json_path:
        with open(json_path, "w", encoding="utf-8") as handle:
            json.dump(result.summary, handle, indent=2, ensure_ascii=False)
            handle.write("\n")
    if plot_dir:
        for path in plot(result, plot_dir):
            click.echo(f"chart: {path}")


@main.command("simulate-weeks")
@click.option("--weeks", type=click.IntRange(1, 13), default=3, show_default=True,
              help="weeks to fill (the range report covers up to 13)")
@click.option("--database", type=click.Path(dir_okay=False), required=True, help="the SQLite file to fill")
@config_option
@click.option("--seed", type=int, default=1, show_default=True,
              help="the first day's seed; each next day's is one more")
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="the first day, a Monday (default: the weeks end with the week of 2026-12-01)")
@click.option("--tickets", type=float, default=None,
              help="expected customers a day (default: what keeps the branch's counters 60% busy)")
@click.option("--tick", "tick_s", type=float, default=None,
              help="simulated seconds between alert sweeps (default 10; a server sweeps every 2)")
@click.option("--world", "world_pairs", multiple=True, metavar="KEY=VALUE",
              help="change one parameter of the simulated world (server/simulator/world.py), e.g. complain_share=0.5")
@click.option("--replace", is_flag=True, help="delete the database first if it exists")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="write each day's summary and the weeks' figures here")
@click.option("--serve", "then_serve", is_flag=True, help="then serve it, as the serve command it prints would")
@click.option("--host", default=None, help="with --serve: address to listen on (default: [server] host)")
@click.option("--port", type=int, default=None, help="with --serve: port (default: [server] port)")
@click.option("--quiet", is_flag=True, help="no line per day")
def simulate_weeks_command(weeks: int, database: str, config_path: str | None, seed: int, start: Any,
                           tickets: float | None, tick_s: float | None, world_pairs: tuple[str, ...], replace: bool,
                           json_path: str | None, then_serve: bool, host: str | None, port: int | None,
                           quiet: bool) -> None:
    """Fill a SQLite database with weeks of simulated days of the branch (default: the demo branch of
    ./config.toml), its customers complaining through the complaint register; then print how to
    serve it and where its range report is (make demo-weeks does both)."""
    import json
    from datetime import timedelta
    from pathlib import Path

    from server.simulator.report import _share
    from server.simulator.weeks import customers_a_day, default_start, simulate_weeks
    from server.simulator.world import World

    config = _load(config_path)
    try:
        world = World.from_pairs(list(world_pairs))
    except (ValueError, TypeError) as exc:
        raise click.BadParameter(str(exc), param_hint="--world") from None
    world.tickets = tickets if tickets is not None else customers_a_day(config, world)
    if then_serve and config.server.mode != "demo":
        raise click.ClickException(f'{config.source}: server.mode: --serve shows the weeks only in mode = "demo"')
    target = Path(database)
    overrides = _serving(database, None)
    served = _load(config_path, overrides)
    with _starting(served):
        _prepare(served)  # the file's serve lock: no server serves it while it is filled (or replaced)
    leftovers = [target, Path(f"{target}-wal"), Path(f"{target}-shm")]
    if any(path.exists() for path in leftovers):
        if not replace:
            raise click.ClickException(f"{target} exists: --replace fills it afresh")
        for path in leftovers:
            path.unlink(missing_ok=True)

    def heard(i: int, n: int, day: Any, played: Any) -> None:
        if not quiet:
            summary = played.summary
            register = summary["register"]
            click.echo(f"day {i + 1}/{n} {day:%Y-%m-%d %a}: {summary['tickets']} tickets, {register['complaints']} "
                       f"complaints ({register['preceded_by_alert']} preceded by an alert), "
                       f"{summary['run_s']:.1f} s", err=True)

    try:
        result = simulate_weeks(weeks=weeks, database=target, config_path=config.source, seed=seed,
                                start=start.date() if start else default_start(weeks), world=world, tick_s=tick_s,
                                on_day=heard)
    except (ConfigError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    first, last = result.first, result.last
    click.echo(f"Filled {target} with {len(result.days)} days of branch {config.branch.code!r}, {first} to {last} "
               f"(about {world.tickets:g} customers a day, seeds {seed} to {seed + len(result.days) - 1}) "
               f"in {result.run_s:.0f} s.")
    for week in result.weekly():
        click.echo(f"  {week['week']} ({week['days']} days): {week['tickets']} tickets, "
                   f"{week['complaints']} complaints recorded, {week['preceded_by_alert']} preceded by an alert "
                   f"({_share(week['preceded_share'])})")
    assert result.ended_at is not None
    ended = result.ended_at.astimezone(config.tz)
    at = (ended.replace(second=0, microsecond=0) + timedelta(minutes=1)).isoformat()
    base = f"http://{host or config.server.host}:{port or config.server.port}"
    command = ["python -m server serve", *(["--config", config_path] if config_path else []),
               "--database", database, "--at", at]
    click.echo("Serve it with the demo log-ins (its clock stands at the end of the last day):")
    click.echo(f"  {' '.join(command)}")
    click.echo(f"and open the range report: {base}/manager/report?from={first}&to={last}")
    if json_path:
        with open(json_path, "w", encoding="utf-8") as handle:
            json.dump({"database": str(result.database), "serve_at": at, "run_s": result.run_s,
                       "weeks": result.weekly(), "days": [{"date": day, **summary} for day, summary in result.days]},
                      handle, indent=2, ensure_ascii=False, default=str)
            handle.write("\n")
    if then_serve:
        overrides = _serving(database, at)
        config = _load(config_path, overrides)
        with _starting(config):
            app, credentials = _open_app(config_path, overrides, config)
        _run(app, host or config.server.host, port or config.server.port, credentials)


@main.command("archive-events")
@config_option
@click.option("--older-than-days", type=click.IntRange(min=1), required=True)
@click.option("--delete", "just_delete", is_flag=True, help="delete instead of archiving to files first")
def archive_events_command(config_path: str | None, older_than_days: int, just_delete: bool) -> None:
    """Move events older than N days out of the database ([retention] archive_dir), or delete them."""
    from server.maintenance import archive_events

    with _runtime(config_path) as rt:
        moved = archive_events(rt, older_than_days, "delete" if just_delete else "archive")
    click.echo(f"{moved} events {'deleted' if just_delete else 'archived'}")


@main.group()
def staff() -> None:
    """Staff accounts."""


@staff.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(["teller", "manager", "admin"]), required=True)
@click.option("--password-stdin", is_flag=True, required=True, help="read the password from standard input")
@click.option("--name", default=None, help="name shown on screens (default: the username)")
@click.option("--branch", default=None, help="branch code (default: the config's branch; admins have all)")
@config_option
def staff_add(username: str, role: str, password_stdin: bool, name: str | None, branch: str | None,
              config_path: str | None) -> None:
    """Create or update a staff account (a new password ends its existing log-ins)."""
    from server.accounts import ByWhom, audit_staff_saved, save_staff

    password = sys.stdin.readline().rstrip("\r\n")
    try:
        with _runtime(config_path) as rt:
            account, created = save_staff(rt, username, role, password, display_name=name, branch_code=branch)
            audit_staff_saved(rt, account.id, created, ByWhom.command_line())
    except CallwiseError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"{'created' if created else 'updated'} {account.role} {account.username}")


@main.group()
def device() -> None:
    """Kiosks and displays."""


@device.command("add")
@click.argument("name")
@click.option("--kind", type=click.Choice(["kiosk", "display"]), required=True)
@click.option("--branch", default=None, help="branch code (default: the config's branch)")
@config_option
def device_add(name: str, kind: str, branch: str | None, config_path: str | None) -> None:
    """Register a device and print its token on the last line (adding it again replaces the token)."""
    from server.accounts import ByWhom, register_device

    try:
        with _runtime(config_path) as rt:
            _device, token, _replaced = register_device(rt, name, kind, ByWhom.command_line(), branch_code=branch)
            base = rt.config.server.public_url
    except CallwiseError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"{kind} {name!r} registered; pair a browser with {base}/{kind}?device=<token>")
    click.echo(token)


# --- Accounts and devices (issue 16, finding 3): list, disable, enable, reset a password, revoke ----------


def _table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> str:
    """``rows`` as a plain text table with a header, each column as wide as its widest cell."""
    cells = [[title for _key, title in columns]]
    cells += [["-" if row.get(key) in (None, "") else str(row[key]) for key, _title in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
                     for line in cells)


def _seen(value: str | None) -> str | None:
    """A last-seen time as ``2026-11-30 09:14 UTC`` (to the minute: it is noted once a minute)."""
    return f"{value[:10]} {value[11:16]} UTC" if value else "never"


def _admin_command(action: Any, config_path: str | None) -> Any:
    """Run one administrative change as the OS user; a refusal is one line on stderr, exit code 1."""
    from server.accounts import ByWhom

    try:
        with _runtime(config_path) as rt:
            return action(rt, ByWhom.command_line())
    except CallwiseError as exc:
        raise click.ClickException(exc.message) from None


@staff.command("list")
@click.option("--branch", default=None, help="only this branch's accounts (and the admins of every branch)")
@config_option
def staff_list(branch: str | None, config_path: str | None) -> None:
    """Staff accounts with role, branch, state and last seen."""
    from server.accounts import list_staff

    rows = _admin_command(lambda rt, _by: list_staff(rt, branch), config_path)
    for row in rows:
        row["last_seen"] = _seen(row["last_seen_at"])
        row["branch"] = row["branch"] or "(all)"
        row["demo"] = "demo" if row["demo"] else ""
    click.echo(_table(rows, [("username", "USERNAME"), ("name", "NAME"), ("role", "ROLE"), ("branch", "BRANCH"),
                             ("state", "STATE"), ("last_seen", "LAST SEEN"), ("demo", "")]))


@staff.command("disable")
@click.argument("username")
@config_option
def staff_disable(username: str, config_path: str | None) -> None:
    """Disable an account: it cannot log in; its log-ins and open sockets end at once."""
    from server.accounts import disable_staff

    row = _admin_command(lambda rt, by: disable_staff(rt, username, by), config_path)
    click.echo(f"disabled {row['role']} {row['username']}; every log-in of it has ended")


@staff.command("enable")
@click.argument("username")
@config_option
def staff_enable(username: str, config_path: str | None) -> None:
    """Let a disabled account log in again (with its password)."""
    from server.accounts import enable_staff

    row = _admin_command(lambda rt, by: enable_staff(rt, username, by), config_path)
    click.echo(f"enabled {row['role']} {row['username']}")


@staff.command("reset-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True,
              help="read the new password from standard input (default: generate a strong one)")
@config_option
def staff_reset_password(username: str, password_stdin: bool, config_path: str | None) -> None:
    """Give an account a new password and end every log-in of it. The generated password is printed
    once, on the last line."""
    from server.accounts import reset_password

    given = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    row, password = _admin_command(lambda rt, by: reset_password(rt, username, by, given), config_path)
    click.echo(f"new password set for {row['username']}; every log-in of it has ended")
    if given is None:
        click.echo(password)


@device.command("list")
@click.option("--branch", default=None, help="only this branch's devices")
@config_option
def device_list(branch: str | None, config_path: str | None) -> None:
    """Kiosks and displays with branch, state and last seen."""
    from server.accounts import list_devices

    rows = _admin_command(lambda rt, _by: list_devices(rt, branch), config_path)
    for row in rows:
        row["last_seen"] = _seen(row["last_seen_at"])
        row["demo"] = "demo" if row["demo"] else ""
    click.echo(_table(rows, [("name", "NAME"), ("kind", "KIND"), ("branch", "BRANCH"), ("state", "STATE"),
                             ("last_seen", "LAST SEEN"), ("demo", "")]))


@device.command("revoke")
@click.argument("name")
@click.option("--branch", default=None, help="branch code (default: the config's branch)")
@config_option
def device_revoke(name: str, branch: str | None, config_path: str | None) -> None:
    """Revoke a kiosk or display: its token stops working and its open sockets are disconnected."""
    from server.accounts import revoke_device

    row = _admin_command(lambda rt, by: revoke_device(rt, name, by, branch), config_path)
    click.echo(f"revoked {row['kind']} {row['name']!r} of branch {row['branch']}; "
               f"`device add {row['name']} --kind {row['kind']}` pairs it again with a new token")
