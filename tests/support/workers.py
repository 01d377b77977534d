"""How ``make test`` shares the tests among its pytest-xdist workers (see tests/conftest.py)."""

from __future__ import annotations

import functools
import re
from pathlib import Path

from xdist.scheduler import LoadScopeScheduling

SHARED_FIXTURE = re.compile(r"""scope\s*=\s*["'](module|package|class)["']""")


class ModuleGroupScheduling(LoadScopeScheduling):
    """Work units of a whole module for the modules that define a module-, class- or package-scoped
    fixture, of one test for the others."""

    def _split_scope(self, nodeid: str) -> str:
        path = nodeid.split("::", 1)[0]
        return path if self._shares_fixtures(path) else nodeid

    @functools.cache  # noqa: B019 - one scheduler per run
    def _shares_fixtures(self, path: str) -> bool:
        source = Path(self.config.rootpath) / path
        return source.is_file() and bool(SHARED_FIXTURE.search(source.read_text(encoding="utf-8")))
