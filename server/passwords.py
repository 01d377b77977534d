"""The password policy for staff accounts: what ``staff add`` (and anything else that sets a
password) accepts. Pure: no database, no Flask. Also where passwords are hashed and checked, off the event loop.

A password is refused when it is shorter than 10 or longer than 256 characters (the log-in form and
``POST /auth/login`` take up to 256, so every accepted password can log in), only whitespace, the
username or contains it, one of the most common passwords (also with digits or symbols added at its
end, e.g. ``Password123!``), one character repeated, a short pattern repeated (``abcabcabca``) or a
run along the alphabet, the digits or a keyboard row (``1234567890``, ``qwertyuiop``, backwards too),
also with symbols added at its end.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

from werkzeug.security import check_password_hash, generate_password_hash

T = TypeVar("T")

MIN_LENGTH = 10
MAX_LENGTH = 256  # the log-in's own limit (server/api/auth.py LoginBody): keep the two equal
USERNAME_MIN_CONTAINED = 3  # shorter usernames ("li") occur by chance in good passwords

# SecLists' "10-million-password-list-top-100" (Daniel Miessler, MIT licence; its 102 lines at commit
# 0ae70b0) without its six obscene entries; then a few that lead the Chinese leaks of 2011 (CSDN,
# Tianya) and defaults an operator might reach for. Most are shorter than MIN_LENGTH already: they
# matter as the stem of a longer one ("dragon2024!!") and for the few long enough ("1234567890").
COMMON_PASSWORDS = frozenset(word for line in (
    "123456 password 12345678 qwerty 123456789 12345 1234 111111 1234567 dragon",
    "123123 baseball abc123 football monkey letmein 696969 shadow master 666666",
    "qwertyuiop 123321 mustang 1234567890 michael 654321 superman 1qaz2wsx 7777777 121212",
    "000000 qazwsx 123qwe killer trustno1 jordan jennifer zxcvbnm asdfgh hunter",
    "buster soccer harley batman andrew tigger sunshine iloveyou 2000 charlie",
    "robert thomas hockey ranger daniel starwars klaster 112233 george computer",
    "michelle jessica pepper 1111 zxcvbn 555555 11111111 131313 freedom 777777",
    "pass maggie 159753 aaaaaa ginger princess joshua cheese amanda summer",
    "love ashley 6969 nicole chelsea matthew access yankees 987654321 dallas",
    "austin thunder taylor matrix minecraft hariom",
    "dearbook xiazhili 147258369 31415926 88888888 1q2w3e4r a123456789 qq123456 woaini1314 5201314",
    "admin administrator welcome changeme passw0rd p@ssw0rd p@ssword secret",
) for word in line.split())

# Runs that a "simple sequence" follows; a password that is a piece of one, forwards or backwards, is refused.
RUNS = (
    "01234567890123456789",
    "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz",
    "qwertyuiopasdfghjklzxcvbnm",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
)
TRAILING_SYMBOLS = "!@#$%^&*()-_=+.,;:?~ "
TRAILING_EXTRAS = "0123456789" + TRAILING_SYMBOLS


def password_problem(password: str, username: str = "") -> str | None:
    """Why ``password`` is not good enough for ``username``, as one sentence; None when it is."""
    if not password.strip():
        return "a password cannot be only spaces"
    if len(password) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"a password has at most {MAX_LENGTH} characters (that is what the log-in accepts)"
    lowered = password.casefold()
    name = username.casefold()
    if name and (lowered == name or (len(name) >= USERNAME_MIN_CONTAINED and name in lowered)):
        return "a password must not contain the username"
    stem = lowered.rstrip(TRAILING_EXTRAS)
    if lowered in COMMON_PASSWORDS or stem in COMMON_PASSWORDS:
        return "that password is one of the most common ones; choose another"
    shapes = {lowered, lowered.rstrip(TRAILING_SYMBOLS)} - {""}
    if any(_repeats_a_short_pattern(shape) for shape in shapes):
        return "a password must not be one character or a short pattern repeated"
    if any(shape in run or shape in run[::-1] for shape in shapes for run in RUNS):
        return "a password must not be a simple sequence such as 1234567890 or qwertyuiop"
    return None


def _repeats_a_short_pattern(text: str) -> bool:
    """``aaaaaaaaaa``, ``ababababab``, ``abcabcabca``: a unit of 1 to 3 characters over and over."""
    for size in (1, 2, 3):
        unit = text[:size]
        if (unit * (len(text) // size + 1))[: len(text)] == text:
            return True
    return False


# --- Hashing and checking, off the event loop (issue 16, finding 6) -----------------------------------
#
# werkzeug's scrypt costs tens to hundreds of milliseconds of CPU per call (575 ms on the review's
# machine). Under gevent everything runs on one OS thread: each check stopped every request and
# socket of the process, and eight threads of wrong passwords pushed health to a median of 4.2 s.
# hashlib.scrypt releases the GIL, so the work goes to a few OS threads of its own and the event loop
# goes on; at most HASHING_THREADS run at once, whatever the number of log-ins waiting (they queue:
# the log-in rate limit bounds how many an address can add), so a flood cannot take every core.
HASHING_THREADS = max(1, min(2, os.cpu_count() or 1))


def hash_password(password: str) -> str:
    """werkzeug's scrypt hash of ``password``, computed off the event loop."""
    return _off_the_loop(generate_password_hash, password)


def check_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``, checked off the event loop."""
    return bool(_off_the_loop(check_password_hash, password_hash, password))


def _off_the_loop(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` on the hashing pool when gevent has patched this process (``serve``);
    otherwise (threading mode, the command line, tests in one process) in the calling thread, which is
    already an OS thread of its own, no more than HASHING_THREADS at once."""
    pool = _gevent_pool()
    if pool is not None:
        return pool.apply(function, args)  # type: ignore[no-any-return]
    with _at_most_a_few():
        return function(*args)


@cache
def _at_most_a_few() -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(HASHING_THREADS)


_pool: Any = None
_pool_pid = 0


def _gevent_pool() -> Any:
    """gevent's native thread pool for hashing, made on first use (after the monkey-patching, and anew
    in a forked child), or None when gevent has not patched this process."""
    global _pool, _pool_pid
    try:
        from gevent import monkey
    except ImportError:  # gevent is a dependency; only a stripped install lacks it
        return None
    if not monkey.is_module_patched("threading"):
        return None
    if _pool is None or _pool_pid != os.getpid():
        from gevent.threadpool import ThreadPool

        _pool, _pool_pid = ThreadPool(HASHING_THREADS), os.getpid()
    return _pool
