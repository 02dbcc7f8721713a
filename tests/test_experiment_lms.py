"""`learndyn validate lms`: passes with the right theory, fails with a factor-2-wrong one."""

import numpy as np
import pytest

import validate.experiments.lms as lms_exp
from validate.registry import RunConfig, run_experiment


def test_quick_run_passes_and_small_gamma_formula_fails_at_large_gamma():
    res = run_experiment("lms", RunConfig(quick=True, seed=5, figures=False))
    assert res.passed, [c.summary() for c in res.comparisons]
    assert len(res.comparisons) == 6  # 3 learning rates x (curve, stationary)
    stationary = res.extra["stationary"]
    worst = max(stationary, key=lambda s: s["small_lr_rel_err"])
    assert worst["small_lr_rel_err"] > 0.10
    # at that learning rate the small-gamma formula is rejected by the simulation ...
    assert abs(worst["small_lr"] - worst["sim_mean"]) > 3 * worst["sim_sem"]
    # ... while the exact one holds (within 3 standard errors, from independent replicas)
    assert abs(worst["exact"] - worst["sim_mean"]) < 3 * worst["sim_sem"]


@pytest.mark.parametrize("target", ["learning_curve", "stationary_excess_loss"])
def test_factor_two_wrong_theory_fails(monkeypatch, target):
    original = getattr(lms_exp, target)

    def doubled(*args, **kwargs):
        return 2 * np.asarray(original(*args, **kwargs))

    monkeypatch.setattr(lms_exp, target, doubled)
    res = run_experiment("lms", RunConfig(quick=True, seed=5, figures=False,
                                          params={"replicas": 150, "window_factor": 2.0}))
    assert not res.passed
    kind = "learning curve" if target == "learning_curve" else "stationary"
    assert all(not c.passed for c in res.comparisons if c.name.startswith(kind))


def test_unknown_parameter_is_rejected():
    with pytest.raises(ValueError, match="no parameter"):
        run_experiment("lms", RunConfig(quick=True, params={"gama": 0.1}))


@pytest.mark.slow
def test_full_runs_fail_no_more_often_than_the_stated_level():
    """Five seeds x six comparisons, each at family-wise level ~1%: under a correct theory the
    number of failed comparisons is ~Binomial(30, 0.01); P(>= 3) < 0.4%."""
    from scipy.stats import binom

    failures, total = 0, 0
    for seed in range(5):
        res = run_experiment("lms", RunConfig(seed=seed, figures=False))
        failures += sum(not c.passed for c in res.comparisons)
        total += len(res.comparisons)
    assert binom.sf(2, total, 0.01) < 0.004
    assert failures <= 2, failures
