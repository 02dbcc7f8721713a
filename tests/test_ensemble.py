"""Ensemble simulator: reproducibility, independence from batching, statistics, divergence."""

import numpy as np
import pytest

from numerics.integrate import DivergenceError
from numerics.sim.ensemble import OnlineRule, simulate_ensemble
from numerics.sim.lms import LmsRule


class OURule(OnlineRule):
    """w <- w + eta (-a w + xi): stationary variance eta/(2a - a^2 eta) exactly."""

    def __init__(self, a, eta):
        self.a, self.lr, self.dim, self.noise_dim = a, eta, 1, 1

    def step(self, w, noise):
        return w + self.lr * (-self.a * w + noise)


def test_same_seed_same_numbers_and_block_independence():
    rule = LmsRule(np.diag([1.0, 0.5]), [1.0, -1.0], 0.1, 0.2)
    kw = dict(replicas=7, seed=11, record_steps=[0, 3, 50], keep_samples=True)
    a = simulate_ensemble(rule, np.zeros(2), 50, block=5, **kw)
    b = simulate_ensemble(rule, np.zeros(2), 50, block=64, **kw)
    assert np.array_equal(a.samples, b.samples)
    # a replica's path does not depend on how many replicas run with it
    c = simulate_ensemble(rule, np.zeros(2), 50, replicas=3, seed=11, record_steps=[50],
                          keep_samples=True)
    assert np.array_equal(c.samples[0], a.samples[-1][:3])
    d = simulate_ensemble(rule, np.zeros(2), 50, replicas=7, seed=12, record_steps=[50],
                          keep_samples=True)
    assert not np.array_equal(d.samples[0], a.samples[-1])
    seq = np.random.SeedSequence(11)
    e = simulate_ensemble(rule, np.zeros(2), 50, block=5, **(kw | {"seed": seq}))
    assert np.array_equal(e.samples, a.samples)


def test_stationary_time_average_matches_exact_ou_variance():
    a, eta = 1.0, 0.05
    rule = OURule(a, eta)
    ens = simulate_ensemble(rule, np.zeros(1), 20000, replicas=200, seed=3,
                            observable=lambda w: w[:, 0] ** 2, average_from=2000)
    exact = eta / (2 * a - a**2 * eta)
    ta = ens.time_average
    assert abs(ta.mean[0] - exact) < 3 * ta.sem[0]
    assert abs(ta.mean[0] - 2 * exact) > 10 * ta.sem[0]


def test_random_initial_ensemble_statistics():
    rule = OURule(1.0, 0.01)
    ens = simulate_ensemble(rule, lambda rng: rng.normal(2.0, 0.5, 1), 0, replicas=4000, seed=1)
    assert abs(ens.mean[0, 0] - 2.0) < 4 * ens.sem[0, 0]
    assert ens.cov[0, 0, 0] == pytest.approx(0.25, rel=0.1)


def test_divergence_is_reported():
    rule = LmsRule(np.eye(3), np.ones(3), 1.5, 0.1)  # far beyond the stability bound
    with pytest.raises(DivergenceError, match="diverged before step"):
        simulate_ensemble(rule, np.zeros(3), 5000, replicas=4, seed=0, block=100)


@pytest.mark.parametrize("kwargs, match", [
    ({"w0": np.zeros(3)}, "w0 must have shape"),
    ({"w0": np.zeros(2), "record_steps": [0, 99]}, "record_steps"),
    ({"w0": np.zeros(2), "seed": -1}, "seed"),
    ({"w0": np.zeros(2), "replicas": 0}, "replicas"),
])
def test_bad_input(kwargs, match):
    rule = LmsRule(np.eye(2), np.ones(2), 0.1, 0.1)
    kw = {"replicas": 2} | kwargs
    with pytest.raises((ValueError, TypeError), match=match):
        simulate_ensemble(rule, steps=10, **kw)
