"""Wait estimates, from plain numbers.

The estimate a customer is given is what later rules hold us to (``eta_broken``), so it is built
from what the branch is actually doing today: how long this service's recent customers took at the
counter, and how many staffed counters serve it right now.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


def mean_service_seconds(recent_durations_s: Sequence[float], expected_s: float, min_samples: int) -> float:
    """Average counter time per customer of one service.

    ``recent_durations_s`` are the day's latest finished tickets of the service (call to finish,
    which includes the walk to the counter). Until there are ``min_samples`` of them, the
    configured expectation fills the missing samples, so the first fast customer of the morning
    does not make every estimate collapse.
    """
    n = len(recent_durations_s)
    if n >= min_samples:
        return sum(recent_durations_s) / n
    return (sum(recent_durations_s) + (min_samples - n) * expected_s) / min_samples


@dataclass(frozen=True)
class ServiceLoad:
    """What the estimate needs to know about one service at one moment."""

    mean_service_s: float
    servers: float  # staffed, unpaused counters serving it, weighted by its rank in their lists
    free_servers: int  # of those, counters idle right now


def counter_share(rank: int) -> float:
    """How much of a counter a service gets when it is ``rank``-th (0-based) in the counter's list.

    A counter calls its first service whenever that has customers, so a service listed second gets
    only the counter's spare time. Halving per rank is a plain, documented guess the simulator
    measures (see BENCHMARKS.md).
    """
    return 1.0 / (1 << rank)


def estimate_wait_s(position: int, load: ServiceLoad) -> int:
    """Seconds until the ticket at ``position`` (1 = next to be called) is likely to be called.

    The people ahead are split over the counters that serve the service; if every such counter is
    busy, the ticket also waits for the first of them to finish (on average a share of one service
    time). With no staffed counter at all we assume one opens, rather than promise nothing.
    """
    if position <= 0:
        return 0
    servers = max(load.servers, 1.0)
    ahead = position - 1
    wait = ahead * load.mean_service_s / servers
    if load.free_servers == 0:
        wait += load.mean_service_s / (servers + 1)
    return int(round(wait))


def service_loads(
    counters: Iterable[tuple[str, Sequence[int]]],
    waiting: Mapping[int, int],
    mean_service_s: Mapping[int, float],
) -> dict[int, ServiceLoad]:
    """The load of every service in ``mean_service_s``, from the counters' states and service lists.

    ``counters`` are ``(state, service ids in call order)``. Closed and paused counters serve
    nobody. A counter whose earlier services are all empty is wholly available to a later one;
    otherwise the later service gets :func:`counter_share` of it.
    """
    open_counters = [(state, list(order)) for state, order in counters if state not in ("closed", "paused")]
    loads: dict[int, ServiceLoad] = {}
    for service_id, mean in mean_service_s.items():
        servers = 0.0
        free = 0
        for state, order in open_counters:
            if service_id not in order:
                continue
            rank = order.index(service_id)
            busy_before = sum(1 for earlier in order[:rank] if waiting.get(earlier, 0) > 0)
            servers += counter_share(busy_before)
            if state == "idle":
                free += 1
        loads[service_id] = ServiceLoad(mean_service_s=mean, servers=servers, free_servers=free)
    return loads


# The calibration of the estimates: from the day's latest customers whose raw estimate was at least
# CALIBRATION_FLOOR_S (a promise of "about now" says nothing about a bias), once there are
# CALIBRATION_MIN_SAMPLES, never beyond CALIBRATION_BOUNDS.
CALIBRATION_FLOOR_S = 60.0
CALIBRATION_MIN_SAMPLES = 10
CALIBRATION_BOUNDS = (0.5, 3.0)


def calibration(raw_and_actual: Iterable[tuple[float, float]]) -> float:
    """How much longer (or shorter) the day's customers really waited than the raw estimate said:
    ``sum(actual) / sum(raw)`` over ``(raw estimate, actual wait)`` pairs whose raw estimate was at
    least a minute, 1.0 until there are ten of them, kept within 0.5-3. The raw estimate counts the
    counters open now, each service's share of them and its recent counter time; what it cannot
    know — pauses and lunches to come, a counter's strict order (a second service waits while the
    first has customers), no-shows and walks — makes it run short in a full hall. The factor
    measured on the same day takes that bias out. Compared with the raw estimate, never with an
    earlier calibrated one, so it cannot feed on itself."""
    pairs = [(raw, actual) for raw, actual in raw_and_actual if raw >= CALIBRATION_FLOOR_S]
    if len(pairs) < CALIBRATION_MIN_SAMPLES:
        return 1.0
    low, high = CALIBRATION_BOUNDS
    return min(high, max(low, sum(actual for _, actual in pairs) / sum(raw for raw, _ in pairs)))


MIN_NORMAL_SERVICE_S = 30.0


def normal_service_seconds(
    medians: Mapping[int, tuple[float, int]], services: Iterable[tuple[int, float]], min_samples: int
) -> dict[int, float]:
    """The normal start-to-finish time of each of ``services`` ((id, expected seconds) pairs) today:
    the median of the day's finished tickets (``medians``: (median, how many) per service id) once
    there are ``min_samples`` of them, else the configured expected time; never below 30 s (a day of
    instant test services must not make everything an overrun)."""
    out = {}
    for service_id, expected_s in services:
        median, samples = medians.get(service_id, (0.0, 0))
        normal = median if samples >= min_samples else expected_s
        out[service_id] = max(normal, MIN_NORMAL_SERVICE_S)
    return out
