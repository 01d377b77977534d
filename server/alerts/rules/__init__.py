"""The alert rules: a registry of small pure functions.

Each module in this package defines one rule with :func:`rule`; every module here is loaded when
the registry is first asked for, so adding a rule is adding one file (and its test). A rule takes a
:class:`~server.alerts.snapshot.BranchSnapshot` and the ``[alerts]`` settings and returns the
conditions that hold now. It reads no clock and no database: ``snapshot.now`` is the time.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from server.alerts.actions import Action
from server.alerts.snapshot import BranchSnapshot
from server.alerts.text import both as both  # the rules' bilingual texts
from server.config import AlertConfig

WARNING = "warning"
CRITICAL = "critical"
SEVERITY_RANK = {WARNING: 1, CRITICAL: 2}


@dataclass(frozen=True)
class Condition:
    """Something a rule finds true now. (rule, subject_kind, subject_id) identifies it across sweeps."""

    rule: str
    subject_kind: str  # counter | ticket | service | branch
    subject_id: str
    severity: str
    message: dict[str, str]
    label: str = ""  # how people name the subject: "A012", "3"
    counter_id: int | None = None  # the counter whose teller also hears of it
    ticket_id: int | None = None
    lead_time_s: int | None = None
    data: dict[str, Any] = field(default_factory=dict)
    action: Action | None = None  # what the manager should do, where (server/alerts/actions.py)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.rule, self.subject_kind, self.subject_id)


RuleFunction = Callable[[BranchSnapshot, AlertConfig], list[Condition]]
_REGISTRY: dict[str, RuleFunction] = {}


def rule(name: str) -> Callable[[RuleFunction], RuleFunction]:
    """Register a rule function under ``name`` (its docstring says when it fires)."""

    def register(function: RuleFunction) -> RuleFunction:
        if name in _REGISTRY and _REGISTRY[name] is not function:
            raise ValueError(f"two alert rules are called {name!r}")
        _REGISTRY[name] = function
        return function

    return register


def registry() -> dict[str, RuleFunction]:
    """Every rule, by name (loading the modules of this package on first use)."""
    if not _REGISTRY:
        for module in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{module.name}")
    return dict(_REGISTRY)


def evaluate_rules(snapshot: BranchSnapshot, settings: AlertConfig) -> list[Condition]:
    """Every condition of every rule, in a stable order, composed into one card per situation
    (server/alerts/stories.py)."""
    from server.alerts.stories import compose  # it builds on this module's Condition

    out: list[Condition] = []
    for _name, function in sorted(registry().items()):
        out.extend(function(snapshot, settings))
    return compose(out, snapshot)


def severity_at(value: float, warning_at: float, critical_at: float) -> str | None:
    """``critical`` at or past ``critical_at``, ``warning`` at or past ``warning_at``, else None."""
    if value >= critical_at:
        return CRITICAL
    if value >= warning_at:
        return WARNING
    return None


