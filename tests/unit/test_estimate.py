"""Wait estimates from plain numbers."""

from __future__ import annotations

import pytest

from server.queueing.estimate import ServiceLoad, counter_share, estimate_wait_s, mean_service_seconds


def test_mean_service_time_is_the_configured_value_before_any_sample():
    assert mean_service_seconds([], 180, min_samples=5) == 180


def test_mean_service_time_blends_toward_real_samples_until_there_are_enough():
    blended = mean_service_seconds([60, 60], 180, min_samples=5)
    assert blended == pytest.approx((120 + 3 * 180) / 5)
    assert mean_service_seconds([60] * 5, 180, min_samples=5) == 60


def test_next_in_line_at_a_free_counter_waits_nothing():
    assert estimate_wait_s(1, ServiceLoad(mean_service_s=180, servers=1, free_servers=1)) == 0


def test_next_in_line_at_busy_counters_waits_for_the_first_to_finish():
    assert estimate_wait_s(1, ServiceLoad(mean_service_s=180, servers=2, free_servers=0)) == 60


def test_people_ahead_are_shared_between_counters():
    one = estimate_wait_s(5, ServiceLoad(mean_service_s=180, servers=1, free_servers=1))
    two = estimate_wait_s(5, ServiceLoad(mean_service_s=180, servers=2, free_servers=1))
    assert (one, two) == (720, 360)


def test_no_open_counter_is_treated_as_one_about_to_open():
    assert estimate_wait_s(3, ServiceLoad(mean_service_s=100, servers=0, free_servers=0)) == 250


def test_a_ticket_no_longer_waiting_has_no_wait():
    assert estimate_wait_s(0, ServiceLoad(mean_service_s=100, servers=1, free_servers=0)) == 0


def test_a_service_lower_in_a_counters_list_gets_less_of_it():
    assert counter_share(0) == 1.0
    assert counter_share(1) == 0.5
    assert counter_share(2) == 0.25


def test_the_calibration_is_the_days_real_waits_over_the_raw_estimates_once_there_are_ten():
    from server.queueing.estimate import calibration

    assert calibration([]) == 1.0
    assert calibration([(100.0, 150.0)] * 9) == 1.0  # too few to say
    assert calibration([(100.0, 150.0)] * 10) == 1.5
    assert calibration([(100.0, 150.0)] * 10 + [(30.0, 900.0)] * 50) == 1.5  # "about now" promises say nothing
    assert calibration([(100.0, 1000.0)] * 10) == 3.0 and calibration([(100.0, 10.0)] * 10) == 0.5  # bounded
