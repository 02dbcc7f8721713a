"""The simulator generated from LMS's one definition vs the hand-written LMS simulator.

Run: pytest -m bench tests/benchmarks/test_bench_rules.py -s
Same rule (:func:`theory.rule_library.lms_rule`, :class:`numerics.sim.lms.LmsRule`), same
replicas, steps, seed and random numbers; the generated simulator must be within 1.5x of the
hand-written one per replica-step (issue "write a learning rule once") and give the same
samples.  Reported: seconds per replica-step for each and their ratio, at two dimensions.
"""

import time

import numpy as np
import pytest

from numerics.sim.ensemble import simulate_ensemble
from numerics.sim.generated import GeneratedRule
from numerics.sim.lms import LmsRule
from theory.rule_library import lms_rule

pytestmark = pytest.mark.bench
R, STEPS, LR, S2 = 2000, 2000, 0.01, 0.2


def _pair(n: int):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((n, n))
    Rm = A @ A.T / n + 0.5 * np.eye(n)
    wo = rng.standard_normal(n)
    vals = {f"R_{i}_{j}": Rm[i, j] for i in range(n) for j in range(i, n)}
    vals.update({f"wo{i}": wo[i] for i in range(n)})
    vals["s2"] = S2
    return LmsRule(Rm, wo, LR, S2), GeneratedRule(lms_rule(n), vals, lr=LR)


def _best(fn, rounds=3):
    best, out = np.inf, None
    for _ in range(rounds):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


@pytest.mark.parametrize("n", [2, 8])
def test_generated_lms_within_1_5x_of_the_hand_written(benchmark, n):
    hand, gen = _pair(n)
    kw = dict(replicas=R, seed=3, record_steps=[STEPS], keep_samples=True, progress=False)
    t_hand, a = _best(lambda: simulate_ensemble(hand, np.zeros(n), STEPS, **kw))
    b = benchmark.pedantic(lambda: simulate_ensemble(gen, np.zeros(n), STEPS, **kw),
                           rounds=3, iterations=1)
    t_gen, b = _best(lambda: simulate_ensemble(gen, np.zeros(n), STEPS, **kw))
    np.testing.assert_allclose(b.samples, a.samples, rtol=1e-10, atol=1e-12)
    per = R * STEPS
    ratio = t_gen / t_hand
    benchmark.extra_info.update({"hand_s": t_hand, "generated_s": t_gen, "ratio": ratio})
    print(f"\nLMS n={n}, {R} replicas x {STEPS} steps: hand-written {t_hand / per * 1e9:.1f} "
          f"ns, generated {t_gen / per * 1e9:.1f} ns per replica-step; ratio {ratio:.2f}")
    assert ratio <= 1.5
