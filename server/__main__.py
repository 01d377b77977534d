"""``python -m server ...``. For ``serve`` (and ``demo``) in gevent mode, gevent patches the standard library
first, before anything that uses threads or sockets is imported."""

import sys


def _wants_gevent(argv: list[str]) -> bool:
    if argv[1:2] not in (["serve"], ["demo"]):
        return False
    import os
    import tomllib

    path = os.environ.get("CALLWISE_CONFIG") or "config.toml"
    for index, arg in enumerate(argv):
        if arg == "--config" and index + 1 < len(argv):
            path = argv[index + 1]
        elif arg.startswith("--config="):
            path = arg.split("=", 1)[1]
    try:
        with open(path, "rb") as handle:
            mode: str = tomllib.load(handle).get("server", {}).get("async_mode", "gevent")
    except (OSError, tomllib.TOMLDecodeError):
        return True  # serve will report the config problem itself
    return mode == "gevent"


if _wants_gevent(sys.argv):
    from gevent import monkey

    monkey.patch_all()

from server.cli import main  # noqa: E402

main(prog_name="python -m server")
