"""learndyn validate learning-bounds-*: right theory passes, a factor-2-wrong theory fails."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import validate.experiments.learning_bounds as lb
from numerics.learning_bounds import MeanFieldState, expected_k_embedded, optimal_size
from validate.registry import RunConfig, run_experiment

SMALL = {
    "learning-bounds-k": {"runs": 150, "cycles": 6, "points": 2, "draws": 600},
    "learning-bounds-size": {"sizes": "1,2,4,6,8,10", "gamma3": "0.03", "draws": 600,
                             "bootstrap": 20},
    "learning-bounds-sigmoid-size": {"widths": "4,8,16", "draws": 300},
    "learning-bounds-steady-state": {"sizes": "2,4", "runs": 12, "burn_in": 6.0,
                                     "window": 3.0},
    "learning-bounds-threshold": {"runs": 12, "burn_in": 6.0, "window": 3.0},
}


def _doubled(fn):
    def f(*args, **kwargs):
        out = fn(*args, **kwargs)
        if isinstance(out, MeanFieldState):
            return MeanFieldState(2 * out.loss, out.grad_norm, out.modes)
        return 2 * np.asarray(out)
    return f


@pytest.mark.parametrize("experiment,target,prefix", [
    ("learning-bounds-k", "expected_k", ""),
    ("learning-bounds-size", "expected_k_embedded", "<k>(N)"),
    ("learning-bounds-sigmoid-size", "expected_k", ""),
    ("learning-bounds-steady-state", "mean_field_stationary", "steady-state loss"),
    ("learning-bounds-threshold", "learning_threshold", ""),
])
def test_doubled_theory_fails(monkeypatch, experiment, target, prefix):
    res = run_experiment(experiment, RunConfig(quick=True, seed=3, figures=False,
                                               params=SMALL[experiment]))
    assert res.passed, [c.summary() for c in res.comparisons if not c.passed]
    monkeypatch.setattr(lb, target, _doubled(getattr(lb, target)))
    bad = run_experiment(experiment, RunConfig(quick=True, seed=3, figures=False,
                                               params=SMALL[experiment]))
    judged = [c for c in bad.comparisons if c.name.startswith(prefix)
              and not c.name.startswith("window")]
    assert judged and all(not c.passed for c in judged), [c.summary() for c in judged]


def test_unknown_parameter_is_rejected():
    with pytest.raises(ValueError, match="no parameter"):
        run_experiment("learning-bounds-size", RunConfig(quick=True, params={"gama3": 0.1}))


@given(st.floats(0.01, 0.3), st.floats(0.3, 2.0), st.floats(0.5, 2.0))
def test_vertex_fit_recovers_the_optimum_of_the_theory(g3, g2, T):
    Ns = 50.0 * np.arange(1, 11) ** 2
    ns = optimal_size(0.1, g2, g3, T)
    if not (Ns[0] < ns < Ns[-1]):
        return
    k = expected_k_embedded(Ns, 50.0, 0.1, g2, g3, T, 60.0, 10.0, 2.0, 80.0)
    fit, se = lb.vertex_fit(Ns, k, np.full(Ns.size, 1e-3))
    assert fit == pytest.approx(ns, rel=1e-8)
    assert se > 0


@pytest.mark.slow
@pytest.mark.parametrize("experiment", sorted(SMALL))
def test_quick_failures_are_binomial_at_the_stated_level(experiment):
    """Eight seeds in quick mode: under a correct theory the failed comparisons are about
    Binomial(n, 0.01); allow the count whose exceedance probability is below 0.5%."""
    from scipy.stats import binom

    failures, total = 0, 0
    for seed in range(1, 9):
        res = run_experiment(experiment, RunConfig(quick=True, seed=seed, figures=False))
        failures += sum(not c.passed for c in res.comparisons)
        total += len(res.comparisons)
    allowed = int(binom.ppf(0.995, total, 0.01))
    assert binom.sf(allowed, total, 0.01) < 0.005
    assert failures <= allowed, (failures, total)


@pytest.mark.slow
@pytest.mark.parametrize("experiment", sorted(SMALL))
def test_quick_and_full_runs_pass_at_seed_0(experiment):
    for quick in (True, False):
        res = run_experiment(experiment, RunConfig(quick=quick, seed=0, figures=False))
        assert res.passed, [c.summary() for c in res.comparisons if not c.passed]
