"""The compiled reduced-chain loop equals the NumPy step to rounding; simulate_ensemble's
segments between recorded steps give the same ensembles as stepping one update at a time."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.sim.ensemble import OnlineRule, simulate_ensemble
from numerics.sim.perceptron import ReducedPerceptronRule


def _rule(rule, sigmoid, baseline, variant, backend, lr=0.05, lam=0.3):
    rng = np.random.default_rng(0)
    N = 40
    mu = rng.standard_normal(N)
    mu /= np.linalg.norm(mu)
    w0 = 0.3 * rng.standard_normal(N)
    extra = [rng.standard_normal(N) for _ in range(3)]
    kw = {"sigma_par": {"sigma_par": 0.5}, "asymmetric": {"mu_neg": 0.5 * extra[0]},
          "plain": {}}[variant]
    red = ReducedPerceptronRule.isotropic(rule, mu, 0.7, lr=lr, lam=lam, extra=(w0, *extra),
                                          sigmoid=sigmoid, baseline=baseline, backend=backend,
                                          **kw)
    return red, red.reduce(w0)


@pytest.mark.parametrize("rule", ["sl", "rl"])
@pytest.mark.parametrize("sigmoid", ["erf", "logistic"])
@pytest.mark.parametrize("baseline", ["expected", "none"])
@pytest.mark.parametrize("variant", ["plain", "sigma_par", "asymmetric"])
def test_numba_loop_equals_numpy_steps(rule, sigmoid, baseline, variant):
    out = {}
    for backend in ("numpy", "numba"):
        red, s0 = _rule(rule, sigmoid, baseline, variant, backend)
        out[backend] = simulate_ensemble(red, s0, 2000, replicas=12, seed=5,
                                         record_steps=[0, 1, 7, 500, 2000],
                                         keep_samples=True).samples
    assert np.all(np.isfinite(out["numba"]))
    np.testing.assert_allclose(out["numba"], out["numpy"], rtol=0, atol=1e-12)
    # the chain moved: a wrong update would not agree by accident
    assert np.max(np.abs(out["numba"][-1] - out["numba"][0])) > 0.05


def test_backend_is_checked_and_kept_by_with_means():
    with pytest.raises(ValueError, match="backend"):
        _rule("sl", "erf", "expected", "plain", "cuda")
    red, _ = _rule("sl", "erf", "expected", "plain", "numpy")
    assert red.with_means(red.mu_pos * 2).backend == "numpy"


class _Counting(OnlineRule):
    """w <- 0.9 w + noise, advanced in segments whose lengths are recorded."""

    def __init__(self):
        self.dim, self.noise_dim, self.lr, self.segments = 1, 1, 0.1, []

    def step(self, w, noise):
        return 0.9 * w + noise

    def advance(self, w, noise):
        self.segments.append(len(noise))
        return super().advance(w, noise)


class _Plain(_Counting):
    def advance(self, w, noise):  # the historical loop: one step at a time
        for z in noise:
            self.segments.append(1)
            w = self.step(w, z)
        return w


@settings(max_examples=40, deadline=None)
@given(steps=st.integers(1, 60), block=st.integers(1, 25),
       rec=st.lists(st.integers(0, 60), max_size=6),
       avg=st.one_of(st.none(), st.integers(0, 60)))
def test_segments_reproduce_step_by_step_runs(steps, block, rec, avg):
    rec = sorted({r for r in rec if r <= steps} | {steps})
    avg = None if avg is None else min(avg, steps)
    kw = dict(replicas=3, seed=2, record_steps=rec, keep_samples=True, average_from=avg,
              block=block)
    a_rule, b_rule = _Counting(), _Plain()
    a = simulate_ensemble(a_rule, np.zeros(1), steps, **kw)
    b = simulate_ensemble(b_rule, np.zeros(1), steps, **kw)
    np.testing.assert_array_equal(a.samples, b.samples)
    if avg is not None:
        np.testing.assert_array_equal(a.time_average.per_replica, b.time_average.per_replica)
    assert sum(a_rule.segments) == steps
    # segments never cross a recorded step, a block boundary or the averaging window
    if avg is None:
        assert len(a_rule.segments) <= len(rec) + -(-steps // block)
