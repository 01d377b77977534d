"""The Flask application factory."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider
from werkzeug.middleware.proxy_fix import ProxyFix

from server.bootstrap import instance_dir, open_runtime, private_folder
from server.config import Config, load_config


def create_app(config_path: str | os.PathLike[str] | None = None, **overrides: Any) -> Flask:
    """Build the app from a config file. ``overrides`` are config sections merged over the file's,
    e.g. ``create_app("config.toml", server={"database_url": "sqlite:///:memory:"})``."""
    from server.api import bp as api_blueprint
    from server.api.errors import register_error_handlers
    from server.limits import limiter
    from server.pages import bp as pages_blueprint
    from server.realtime import CHANNEL, SocketIOPublisher, socketio
    from server.socket_limits import SocketLimits

    config = load_config(config_path, overrides)
    app = Flask(__name__, static_folder=None)
    app.config.update(
        SECRET_KEY=_secret_key(config),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.server.public_url.startswith("https://"),
        SESSION_COOKIE_NAME="callwise_session",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=config.server.token_lifetime_hours),
        MAX_CONTENT_LENGTH=64 * 1024,
        RATELIMIT_STORAGE_URI=config.server.rate_limit_storage,
        RATELIMIT_HEADERS_ENABLED=True,
        # If the limiter's Redis is away, serve customers rather than fail: count in memory meanwhile.
        RATELIMIT_SWALLOW_ERRORS=True,
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
    )
    if config.server.proxy_count:
        n = config.server.proxy_count
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    if isinstance(app.json, DefaultJSONProvider):
        app.json.sort_keys = False
        app.json.ensure_ascii = False

    runtime = open_runtime(config, publisher=SocketIOPublisher())
    if config.server.mode == "production":
        from server.demo import refuse_demo_leftovers

        refuse_demo_leftovers(runtime)  # StartupError: demo log-ins must not work in production
    app.extensions["callwise"] = runtime

    register_error_handlers(app)
    app.register_blueprint(api_blueprint)
    app.register_blueprint(pages_blueprint)
    limiter.init_app(app)
    socketio.init_app(
        app,
        async_mode=config.server.async_mode,
        message_queue=config.server.message_queue or None,
        channel=CHANNEL,
        ping_interval=10,
        ping_timeout=10,
        async_handlers=False,  # one connection's events run in order, one at a time (server/socket_limits.py)
    )
    SocketLimits(socketio.server, config.limits, proxy_count=config.server.proxy_count).install()
    return app


def _secret_key(config: Config) -> str:
    """The environment's (or file's) key; in demo mode only, a random one kept under instance/."""
    if config.secret_key:
        return config.secret_key
    if config.server.mode == "production":  # load_config already refuses this; never fall through
        raise RuntimeError("production mode needs CALLWISE_SECRET_KEY")
    path = instance_dir(config) / "demo-secret-key"
    if path.exists():
        return path.read_text().strip()
    private_folder(path.parent)
    # Written whole under a name of its own, then linked into place: several demo processes starting
    # at once all end up with the first one's key (a link fails if the name exists) and none reads a
    # half-written file.
    temporary = path.with_name(f".demo-secret-key.{os.getpid()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32))
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
    return path.read_text().strip()
