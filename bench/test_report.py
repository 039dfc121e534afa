#!/usr/bin/env python3
"""Unit tests of report.py's medians and verdicts; bench/compare.sh --smoke runs them."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402

FULL = report.FULL_RULES


def run(workload="get", ops=100000, errors=0, elapsed=5.0, **fields):
    r = {"workload": workload, "ops": ops, "errors": errors, "elapsed_s": elapsed}
    r.update(fields)
    return r


class Medians(unittest.TestCase):
    def test_median_of_odd_and_even_counts(self):
        self.assertEqual(report.median([3, 1, 2]), 2)
        self.assertEqual(report.median([4, 1, 3, 2]), 2.5)
        self.assertIsNone(report.median([]))

    def test_one_outlier_run_does_not_decide(self):
        z = [run(ops_per_s=x) for x in (101, 100, 99)]
        f = [run(ops_per_s=x) for x in (900, 250, 210)]
        zm, fm, r, met, why = report.verdict(z, f, "ops_per_s", ">=", 2.0, FULL)
        self.assertEqual((zm, fm), (100, 250))
        self.assertAlmostEqual(r, 2.5)
        self.assertTrue(met, why)
        # The same outlier does not carry a run that misses the goal either.
        f = [run(ops_per_s=x) for x in (900, 150, 190)]
        self.assertFalse(report.verdict(z, f, "ops_per_s", ">=", 2.0, FULL)[3])

    def test_spread_is_min_to_max(self):
        self.assertEqual(report.figure([run(p50_us=x) for x in (5, 1, 9)], "p50_us"), (5, 1, 9))


class Verdicts(unittest.TestCase):
    def setUp(self):
        self.z = [run(p50_us=1000.0) for _ in range(3)]

    def test_a_run_with_errors_fails_the_target(self):
        f = [run(p50_us=10.0), run(p50_us=10.0, errors=1), run(p50_us=10.0)]
        _, _, r, met, why = report.verdict(self.z, f, "p50_us", "<=", 0.5, FULL)
        self.assertAlmostEqual(r, 0.01)
        self.assertFalse(met)
        self.assertIn("Ferrokeeper run 2: 1 errors", why)

    def test_errors_on_the_reference_side_fail_it_too(self):
        z = self.z[:2] + [run(p50_us=1000.0, errors=3)]
        f = [run(p50_us=10.0) for _ in range(3)]
        self.assertFalse(report.verdict(z, f, "p50_us", "<=", 0.5, FULL)[3])

    def test_every_op_failed_never_meets_a_latency_goal(self):
        # A workload whose every op failed measures nothing: latency 0, which is below any goal.
        f = [run(ops=0, errors=0, p50_us=0.0) for _ in range(3)]
        _, _, r, met, why = report.verdict(self.z, f, "p50_us", "<=", 0.5, FULL)
        self.assertFalse(met)
        self.assertIn("no successful ops", why)

    def test_too_few_runs_do_not_count(self):
        f = [run(p50_us=10.0) for _ in range(2)]
        _, _, _, met, why = report.verdict(self.z, f, "p50_us", "<=", 0.5, FULL)
        self.assertFalse(met)
        self.assertIn("2 runs < 3", why)
        # A smoke run asks for one.
        self.assertTrue(report.verdict(self.z[:1], f[:1], "p50_us", "<=", 0.5, report.SMOKE_RULES)[3])

    def test_short_runs_count_only_when_count_bound_with_enough_ops(self):
        f = [run(ops=5000, elapsed=1.0, p50_us=10.0) for _ in range(3)]
        self.assertFalse(report.verdict(self.z, f, "p50_us", "<=", 0.5, FULL)[3])
        f = [run(ops=10000, elapsed=1.0, p50_us=10.0) for _ in range(3)]
        self.assertTrue(report.verdict(self.z, f, "p50_us", "<=", 0.5, FULL)[3])
        # watch: its rounds add up to little; the wall-clock window is what must be long.
        f = [run("watch", ops=200, elapsed=2.0, window_s=5.5, p50_us=10.0) for _ in range(3)]
        self.assertTrue(report.verdict(self.z, f, "p50_us", "<=", 0.5, FULL)[3])

    def test_a_missed_goal_is_not_met(self):
        f = [run(p50_us=600.0) for _ in range(3)]
        _, _, r, met, why = report.verdict(self.z, f, "p50_us", "<=", 0.5, FULL)
        self.assertAlmostEqual(r, 0.6)
        self.assertEqual((met, why), (False, ""))


class JavaWatch(unittest.TestCase):
    def java(self, *rounds):
        return [run("watch-java", ops=len(r), rounds_us=list(r)) for r in rounds]

    def test_pools_every_round_of_every_run(self):
        rs = self.java([10, 11, 12, 13, 90], [20, 21, 22, 23, 24], [30, 31, 32, 33, 34])
        self.assertEqual(report.figure(rs, "p50_us"), (23, 12, 32))
        self.assertEqual(report.figure(rs, "max_us"), (90, 24, 90))

    def test_slowest_round_against_the_references_median(self):
        z = self.java([100, 150, 200, 250, 300]) * 3
        f = self.java([30, 31, 32, 33, 140]) * 3
        zm, fm, r, met, _ = report.verdict(z, f, "max_us", "<=", 1.0, FULL, "p50_us")
        self.assertEqual((zm, fm), (200, 140))
        self.assertTrue(met)
        f = self.java([30, 31, 32, 33, 421]) * 3
        self.assertFalse(report.verdict(z, f, "max_us", "<=", 1.0, FULL, "p50_us")[3])

    def test_too_few_rounds_do_not_count(self):
        z = self.java([100, 150, 200, 250, 300]) * 3
        f = self.java([30, 31, 32]) * 3
        _, _, _, met, why = report.verdict(z, f, "p50_us", "<=", 1 / 3, FULL)
        self.assertFalse(met)
        self.assertIn("3 rounds < 5", why)


if __name__ == "__main__":
    unittest.main()
