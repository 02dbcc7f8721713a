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


def test_seed_sequence_from_several_words_is_accepted_and_recorded():
    """SeedSequence([seed, stream]) has a list entropy: the ensemble records it (JSON-safe)
    instead of failing on int()."""
    import json

    rule = LmsRule(np.diag([1.0, 0.5]), [1.0, -1.0], 0.1, 0.2)
    ens = simulate_ensemble(rule, np.zeros(2), 5, replicas=3,
                            seed=np.random.SeedSequence([11, 1]))
    assert ens.seed_entropy == (11, 1)
    assert json.loads(json.dumps(ens.to_dict()))["seed_entropy"] == [11, 1]
    assert simulate_ensemble(rule, np.zeros(2), 5, replicas=3, seed=11).seed_entropy == 11


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


# ------------------------------------------------------------- seeding and statistics, exactly


def test_replica_generators_are_the_spawned_children_and_siblings_are_independent():
    """Replica r draws from ``SeedSequence(seed).spawn(R)[r]``; sibling seeds share no stream
    (with ``PCG64(entropy + r)`` replica r + 1 of seed s would equal replica r of seed s + 1,
    so e.g. a Richardson pair or a control ensemble on seeds s, s + 1 would share noise)."""
    from numerics.sim.ensemble import replica_generators

    for seed in (0, 5, np.random.SeedSequence(123)):
        gens = replica_generators(seed, 4)
        # a fresh root (spawning is stateful: the seed object has handed out its children)
        root = np.random.SeedSequence(seed.entropy if isinstance(seed, np.random.SeedSequence)
                                      else seed)
        for g, child in zip(gens, root.spawn(4)):
            ref = np.random.Generator(np.random.PCG64(child))
            assert np.array_equal(g.standard_normal(5), ref.standard_normal(5))
    a = [g.standard_normal(2000) for g in replica_generators(7, 3)]
    b = [g.standard_normal(2000) for g in replica_generators(8, 3)]
    for r in range(2):
        assert not np.array_equal(a[r + 1], b[r])
        # independent streams: sample correlation within 4.5/sqrt(n) of 0 (n = 2000)
        assert abs(np.corrcoef(a[r + 1], b[r])[0, 1]) < 4.5 / np.sqrt(2000)
    # the ensemble uses exactly these generators: replica r's first step is its first draw
    rule = _Walk(2)
    ens = simulate_ensemble(rule, np.zeros(2), 1, replicas=3, seed=7, record_steps=[1],
                            keep_samples=True)
    ref = [g.standard_normal((1, 2))[0] for g in replica_generators(7, 3)]
    assert np.array_equal(ens.samples[0], np.stack(ref))


class _Walk(OnlineRule):
    """w <- w + noise (lr 1): the state is the running sum of the replica's draws."""

    def __init__(self, dim):
        self.dim, self.noise_dim, self.lr = dim, dim, 1.0

    def step(self, w, noise):
        return w + noise


class _Counter(OnlineRule):
    """w <- w + 1: after k steps every replica holds k + its start (known at every step)."""

    def __init__(self):
        self.dim, self.noise_dim, self.lr = 1, 1, 0.5

    def step(self, w, noise):
        return w + 1.0


def test_sem_and_cov_are_the_unbiased_between_replica_statistics_exactly():
    """``sem = std(ddof=1)/sqrt(R)`` and ``cov = np.cov(ddof=1)`` at every record, to rounding
    (``ddof=0`` changes the SE by sqrt((R-1)/R) = 0.9% at R = 60, ``std`` for ``sem`` by
    sqrt(R): both fail here)."""
    R = 60
    ens = simulate_ensemble(_Walk(3), np.zeros(3), 5, replicas=R, seed=2, record_steps=[1, 5],
                            keep_samples=True, average_from=2)
    for i in range(2):
        x = ens.samples[i]
        np.testing.assert_allclose(ens.mean[i], x.mean(axis=0), rtol=1e-13)
        np.testing.assert_allclose(ens.sem[i], x.std(axis=0, ddof=1) / np.sqrt(R), rtol=1e-12)
        np.testing.assert_allclose(ens.cov[i], np.cov(x.T, ddof=1), rtol=1e-12, atol=1e-15)
    ta = ens.time_average
    np.testing.assert_allclose(ta.sem, ta.per_replica.std(axis=0, ddof=1) / np.sqrt(R),
                               rtol=1e-12)


@pytest.mark.parametrize("start, steps", [(0, 10), (3, 10), (10, 10), (1, 2)])
def test_time_average_over_every_step_of_the_window(start, steps):
    """Deterministic observable known at every step (w_k = w_0 + k): the average over the steps
    ``start..steps`` (both included) is ``w_0 + (start + steps)/2`` exactly; a divisor or a
    window off by one step is off by about 1/window."""
    w0 = np.array([[0.0], [10.0]])
    ens = simulate_ensemble(_Counter(), w0, steps, replicas=2, seed=0, average_from=start)
    ta = ens.time_average
    assert (ta.start, ta.stop) == (start, steps + 1)
    np.testing.assert_array_equal(ta.per_replica[:, 0], w0[:, 0] + (start + steps) / 2)
    assert ens.times[-1] == 0.5 * steps  # time = lr x updates


def test_two_x_wrong_theory_is_rejected_by_many_standard_errors():
    """Sharp version of the OU check: the relative SE of the stationary average is about
    0.5% here, so a doubled variance sits ~200 SE away (> 100 required); with the per-replica
    standard deviation in place of the SE it would be ~15 SE."""
    a, eta = 1.0, 0.05
    ens = simulate_ensemble(OURule(a, eta), np.zeros(1), 8000, replicas=200, seed=4,
                            observable=lambda w: w[:, 0] ** 2, average_from=1000)
    exact = eta / (2 * a - a**2 * eta)
    ta = ens.time_average
    assert abs(ta.mean[0] - exact) < 3.5 * ta.sem[0]
    assert abs(ta.mean[0] - 2 * exact) > 100 * ta.sem[0]
