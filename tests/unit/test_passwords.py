"""The password policy (issue 16, finding 8): what the review got through, and what must still pass."""

from __future__ import annotations

import secrets

import pytest

from server.passwords import MAX_LENGTH, password_problem


@pytest.mark.parametrize("password, why", [
    ("12345678", "at least 10"),
    ("password", "at least 10"),
    (" " * 8, "only spaces"),
    (" " * 12, "only spaces"),
    ("\t\n  \u3000   \t", "only spaces"),
    ("x" * 100_000, "at most 256"),
    ("x" * (MAX_LENGTH + 1), "at most 256"),
    ("li.na.wang", "username"),
    ("LI.NA.WANG", "username"),
    ("my-li.na.wang-2024", "username"),
    ("1234567890", "common"),
    ("qwertyuiop", "common"),
    ("Password123!", "common"),
    ("password2024", "common"),
    ("iloveyou!!!", "common"),
    ("woaini1314", "common"),
    ("Dearbook2011", "common"),
    ("aaaaaaaaaa", "repeated"),
    ("ababababab", "repeated"),
    ("abcabcabcabc", "repeated"),
    ("0000000000000", "repeated"),
    ("abcdefghijk", "sequence"),
    ("9876543210", "sequence"),
    ("3456789012", "sequence"),
    ("asdfghjklz", "sequence"),
    ("1qaz2wsx3edc", "sequence"),
    ("0123456789!", "sequence"),
])
def test_weak_passwords_are_refused_with_a_reason(password, why):
    problem = password_problem(password, "li.na.wang")
    assert problem is not None and why in problem, (password, problem)
    assert "\n" not in problem


@pytest.mark.parametrize("password", [
    "correct-horse-9",          # the tests' own
    "another-password-1",
    "s3cret-enough",
    "bench-password-9",
    "x" * 9 + "y",             # ten characters, not one repeated
    ("correct horse battery staple " * 9)[:MAX_LENGTH],
    "柜台密码很长很长很长",        # ten characters of Chinese
    "x%83910274",
])
def test_reasonable_passwords_pass(password):
    assert password_problem(password, "li.na.wang") is None


def test_a_short_username_is_refused_whole_but_may_occur_inside():
    assert password_problem("li", "li") is not None
    assert password_problem("cooling-breeze", "li") is None
    assert password_problem("bobsleigh-run", "bob") is not None


def test_random_demo_style_passwords_pass():
    for _ in range(200):
        assert password_problem(secrets.token_urlsafe(9), "teller1") is None
