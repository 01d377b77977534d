"""Callwise: queue calling for bank branches that warns the lobby manager before waits become complaints.

``server.create_app`` builds the Flask app; ``server.socketio`` is the Flask-SocketIO instance.
Both are imported lazily so that ``python -m server serve`` can let gevent patch the standard
library before anything else is loaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask
    from flask_socketio import SocketIO

    socketio: SocketIO


def create_app(config_path: Any = None, **overrides: Any) -> Flask:
    """The application factory; see :func:`server.app.create_app`."""
    from server.app import create_app as factory

    return factory(config_path, **overrides)


def __getattr__(name: str) -> Any:
    if name == "socketio":
        from server.realtime import socketio

        return socketio
    raise AttributeError(name)
