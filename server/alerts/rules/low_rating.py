"""low_rating: a customer rated the service 1 or 2 stars (``low_rating_max_stars``), often with a
comment — the complaint is being made; the manager can still speak to the customer, who may be in
the hall."""

from __future__ import annotations

from server.alerts import actions
from server.alerts.rules import Condition, both, rule
from server.alerts.snapshot import BranchSnapshot
from server.config import AlertConfig


@rule("low_rating")
def low_rating(snapshot: BranchSnapshot, settings: AlertConfig) -> list[Condition]:
    """Raised when a rating of ``low_rating_max_stars`` or fewer arrives; shown for
    ``low_rating_show_s`` (it resolves then, or once the day is over), with the comment, the
    counter and the teller who served."""
    out = []
    counters = snapshot.counters_by_id
    for rating in snapshot.low_ratings:
        shown_s = snapshot.elapsed_s(rating.rated_at)
        if rating.stars > settings.low_rating_max_stars or shown_s >= settings.low_rating_show_s:
            continue
        counter = counters.get(rating.counter_id) if rating.counter_id is not None else None
        where = both(f"（{counter.number}号窗口" + (f"，{rating.teller}" if rating.teller else "") + "）",
                     f" (counter {counter.number}" + (f", {rating.teller}" if rating.teller else "") + ")") \
            if counter is not None else both("", "")
        said = both(f"：“{rating.comment}”", f": “{rating.comment}”") if rating.comment else both("", "")
        out.append(
            Condition(
                rule="low_rating",
                subject_kind="ticket",
                subject_id=str(rating.ticket_id),
                label=rating.number,
                severity="warning",
                message=both(f"{rating.number}{where['zh']}评价{rating.stars}星{said['zh']}",
                             f"{rating.number}{where['en']} rated {rating.stars} of 5{said['en']}"),
                counter_id=rating.counter_id,
                ticket_id=rating.ticket_id,
                data={"stars": rating.stars, "comment": rating.comment,
                      "counter": counter.number if counter is not None else None, "teller": rating.teller},
                action=actions.follow_up(rating.number, counter),
            )
        )
    return out
