"""Numbers in API paths, bounded to what the database can hold.

An unbounded ``<int:...>`` lets ``/counters/99999999999999999999/open`` reach the database, where
SQLite raises OverflowError and PostgreSQL an out-of-range error: a 500 for bad input. A number
outside these bounds cannot name anything, so the route does not match and the answer is the JSON 404.
"""

from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter, Map

from server.config import MAX_COUNTER_NUMBER

MAX_ROW_ID = 2**63 - 1  # BIGINT on PostgreSQL, INTEGER on SQLite


class CounterNumber(IntegerConverter):
    """``<counter:number>``: a counter number as the config allows it, 1 to 999."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        super().__init__(url_map, min=1, max=MAX_COUNTER_NUMBER)


class RowId(IntegerConverter):
    """``<id:name>``: the id of a ticket, alert or instruction, 1 to 2**63 - 1."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        super().__init__(url_map, min=1, max=MAX_ROW_ID)


CONVERTERS = {"counter": CounterNumber, "id": RowId}
