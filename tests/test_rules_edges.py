"""The small rules (simulation.rules) exactly at the thresholds where they switch.

test_rules checks their directions and bounds; these tests pin which side of each
threshold the threshold itself belongs to, which a direction test cannot see.
"""

from __future__ import annotations

from simulation import rules

GAIN, LOSS, TOLERANCE, BREACH = 0.03, 0.25, 0.15, 0.3


def test_a_shortfall_of_exactly_the_tolerance_still_keeps_the_promise():
    kept = 0.6 + GAIN * (1.0 - 0.6)
    assert rules.next_trust(0.6, -TOLERANCE, GAIN, LOSS, TOLERANCE, BREACH) == kept


def test_a_shortfall_of_exactly_the_breach_is_not_yet_a_breach():
    assert rules.next_trust(0.6, -BREACH, GAIN, LOSS, TOLERANCE, BREACH) == 0.6
    just_beyond = -BREACH - 1e-12
    assert rules.next_trust(0.6, just_beyond, GAIN, LOSS, TOLERANCE, BREACH) == 0.6 - LOSS * 0.6


def test_burnout_heals_at_most_all_the_way_to_zero():
    """Healing takes a share of burnout, at most all of it, however fast staff care makes
    it: a heal rate of 0.8 with staff effect 0.5 would take 120%."""
    assert rules.next_burnout(0.4, 3, 5, 0.1, 0.8, 0.5) == 0.0
