"""The failure-rate test on crafted series: a spike, a slow drift, a quiet day."""

from debits.failure_rates import binomial_upper_tail, judge_failure_rate

BASELINE_DAYS = 14


def judge_series(daily: list[tuple[int, int]]) -> list[bool]:
    """Judge each day of (debits, failures) against the pooled trailing days before it."""
    verdicts = []
    for index in range(BASELINE_DAYS, len(daily)):
        trailing = daily[index - BASELINE_DAYS : index]
        debits, failures = daily[index]
        verdict = judge_failure_rate(
            code="insufficient_funds",
            failures=failures,
            debits=debits,
            baseline_failures=sum(f for _, f in trailing),
            baseline_debits=sum(d for d, _ in trailing),
        )
        verdicts.append(verdict.is_jump)
    return verdicts


def test_the_binomial_tail_matches_known_values():
    assert binomial_upper_tail(0, 10, 0.3) == 1.0
    assert abs(binomial_upper_tail(1, 1, 0.25) - 0.25) < 1e-12
    # P(X >= 8 | n=10, p=0.5) = 56/1024
    assert abs(binomial_upper_tail(8, 10, 0.5) - 56 / 1024) < 1e-10
    assert binomial_upper_tail(11, 10, 0.5) == 0.0


def test_a_spike_is_a_jump():
    steady = [(5000, 100)] * BASELINE_DAYS  # 2 %
    assert judge_series(steady + [(5000, 400)]) == [True]  # 8 %


def test_a_spike_on_a_month_end_volume_is_a_jump_too():
    steady = [(5000, 100)] * BASELINE_DAYS
    assert judge_series(steady + [(120_000, 9_000)]) == [True]  # 7.5 %


def test_a_slow_drift_moves_the_baseline_with_it_and_raises_nothing():
    # From 2 % to about 3.5 % over a month, a little more each day.
    drift = [(5000, int(5000 * (0.02 + 0.0005 * day))) for day in range(45)]
    assert not any(judge_series(drift))


def test_a_quiet_day_with_few_debits_is_not_judged():
    steady = [(5000, 100)] * BASELINE_DAYS
    verdict = judge_failure_rate(
        code="insufficient_funds",
        failures=5,
        debits=12,
        baseline_failures=sum(f for _, f in steady),
        baseline_debits=sum(d for d, _ in steady),
    )
    assert not verdict.is_jump and verdict.reason == "low_volume"


def test_a_small_rise_on_a_large_volume_is_significant_but_not_worth_an_alert():
    steady = [(100_000, 2_000)] * BASELINE_DAYS  # 2 %
    verdict = judge_failure_rate(
        code="insufficient_funds",
        failures=2_600,  # 2.6 %: real, but not a jump
        debits=100_000,
        baseline_failures=sum(f for _, f in steady),
        baseline_debits=sum(d for d, _ in steady),
    )
    assert verdict.p_value < 1e-4
    assert not verdict.is_jump and verdict.reason == "small_ratio"


def test_a_code_never_seen_before_appearing_in_numbers_is_a_jump():
    verdict = judge_failure_rate(
        code="agreement_stale",
        failures=60,
        debits=3000,
        baseline_failures=0,
        baseline_debits=70_000,
    )
    assert verdict.is_jump
