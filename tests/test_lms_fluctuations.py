"""Exact LMS fluctuations: the fourth-moment map against a brute-force derivation and
against simulation; the fourth-moment stability bound; the lms experiment's refusal."""

from functools import lru_cache

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.lms import learning_curve, stability_bound
from numerics.lms_fluctuations import (
    excess_loss_statistics,
    fourth_moment_spectral_radius,
    fourth_moment_stability_bound,
    fourth_moment_step,
)
from numerics.sim.ensemble import simulate_ensemble
from numerics.sim.lms import LmsRule
from theory.lms_fluctuations import _conditional_moment, fourth_moment_map
from validate.params import ParameterError
from validate.registry import resolve_params


@lru_cache(maxsize=8)
def _brute(i: int, j: int):
    """E[v_i'^2 v_j'^2 | v] at n = 3 by Isserlis over all inputs (no reduction through T):
    the monomials of v (all even) and their coefficients, lambdified in (lambda, gamma, s2)."""
    powers = {i: 4} if i == j else {i: 2, j: 2}
    expr, sym, v = _conditional_moment(3, powers)
    poly = sp.Poly(sp.expand(expr), *v)
    args = [sym.R[0, 0], sym.R[1, 1], sym.R[2, 2], sym.gamma, sym.s2]
    terms = []
    for exps, coeff in poly.terms():
        assert all(p % 2 == 0 for p in exps)
        idx = tuple(a for a, p in enumerate(exps) for _ in range(p // 2))
        terms.append((idx, sp.lambdify(args, coeff)))
    return terms


def _brute_step(m, k, lam, gamma, s2):
    out = np.empty((3, 3))
    for i in range(3):
        for j in range(i, 3):
            total = 0.0
            for idx, coeff in _brute(i, j):
                val = 1.0 if not idx else k[idx[0]] if len(idx) == 1 else m[idx[0], idx[1]]
                total += float(coeff(*lam, gamma, s2)) * val
            out[i, j] = out[j, i] = total
    return out


@settings(max_examples=25, deadline=None)
@given(lam=st.lists(st.floats(0.05, 3.0), min_size=3, max_size=3),
       frac=st.floats(0.05, 0.9), s2=st.floats(0.0, 2.0), seed=st.integers(0, 2**16))
def test_map_equals_brute_force_isserlis(lam, frac, s2, seed):
    lam = np.array(lam)
    gamma = frac * stability_bound(np.diag(lam))
    rng = np.random.default_rng(seed)
    B = rng.standard_normal((3, 3))
    m = B @ B.T
    k = rng.uniform(0, 2, 3)
    got = fourth_moment_step(m, k, lam, gamma, s2)
    want = _brute_step(m, k, lam, gamma, s2)
    assert np.allclose(got, want, rtol=1e-10, atol=1e-12 * np.abs(want).max())


def test_map_closes_and_has_the_one_dimensional_limit():
    fm = fourth_moment_map()
    u = sp.Symbol("u")
    d = fm.diag_coeffs["vi4"].subs(fm.gamma, u / fm.li)
    assert sp.expand(d - (1 - 4 * u + 18 * u**2 - 60 * u**3 + 105 * u**4)) == 0
    # E[(1 - u z^2)^4] for z ~ N(0, 1): moments 1, 3, 15, 105
    assert sp.expand(d - sum(sp.binomial(4, r) * (-u) ** r * sp.factorial2(2 * r - 1)
                             for r in range(5))) == 0
    root = max(r.real for r in np.roots([105, -60, 18, -4]) if abs(r.imag) < 1e-12)
    assert fourth_moment_stability_bound(np.diag([2.0])) == pytest.approx(root / 2, rel=1e-9)


@settings(max_examples=10, deadline=None)
@given(n=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_fourth_moment_bound_lies_below_the_mean_square_bound(n, seed):
    rng = np.random.default_rng(seed)
    lam = rng.uniform(0.1, 3.0, n)
    R = np.diag(lam)
    ms, b4 = stability_bound(R), fourth_moment_stability_bound(R)
    assert 0 < b4 < ms
    assert fourth_moment_spectral_radius(R, 0.98 * b4) < 1 < fourth_moment_spectral_radius(
        R, min(1.02 * b4, 0.999 * ms))
    # scale invariance: R -> c R, gamma -> gamma / c
    assert fourth_moment_stability_bound(3.0 * R) == pytest.approx(b4 / 3.0, rel=1e-8)


def _problem(dim=3):
    from validate.experiments.lms import problem

    return problem(dim, 0.2, 2.0)


def test_mean_is_the_learning_curve():
    R, w_o = _problem(4)
    g = 0.3 * stability_bound(R)
    stats = excess_loss_statistics(R, g, 0.25, np.zeros(4), w_o, 300)
    assert np.allclose(stats.mean, learning_curve(R, g, 0.25, np.zeros(4), w_o, 300),
                       rtol=1e-12)
    assert abs(stats.var[0]) < 1e-12 * stats.mean[0] ** 2  # a deterministic start
    assert np.all(stats.var[1:] > 0)


def test_variance_and_window_variance_match_simulation():
    """At 0.2 of the bound (light tails) the exact variances of the excess loss and of its
    time average agree with 20000 simulated learners within 4 standard errors of the
    sample variances (their SE from the sample fourth central moment)."""
    R, w_o = _problem(3)
    g = 0.2 * stability_bound(R)
    steps, start = 80, 30
    stats = excess_loss_statistics(R, g, 0.25, np.zeros(3), w_o, steps, window=(start, steps))
    rule = LmsRule(R, w_o, g, 0.25)
    rec = [1, 10, 30, 80]
    ens = simulate_ensemble(rule, np.zeros(3), steps, replicas=20000, seed=11, record_steps=rec,
                            observable=rule.excess_loss, keep_samples=True, average_from=start,
                            progress=False)

    def z_var(x, exact):
        n = x.size
        c = x - x.mean()
        v = c.var(ddof=1)
        se = np.sqrt((np.mean(c**4) - v**2) / n)
        return (v - exact) / se

    for i, s in enumerate(rec):
        x = ens.samples[i, :, 0]
        assert abs((x.mean() - stats.mean[s]) / (x.std() / np.sqrt(x.size))) < 4
        assert abs(z_var(x, stats.var[s])) < 4, s
    avg = ens.time_average.per_replica[:, 0]
    assert abs(avg.mean() - stats.window_mean) < 4 * avg.std() / np.sqrt(avg.size)
    assert abs(z_var(avg, stats.window_var)) < 4
    # a doubled variance would be rejected
    assert abs(z_var(avg, 2 * stats.window_var)) > 10


def test_bad_inputs():
    R, w_o = _problem(3)
    g = 0.2 * stability_bound(R)
    with pytest.raises(ValueError, match="window"):
        excess_loss_statistics(R, g, 0.25, np.zeros(3), w_o, 10, window=(5, 20))
    with pytest.raises(ValueError, match="gamma"):
        excess_loss_statistics(R, 2 * stability_bound(R), 0.25, np.zeros(3), w_o, 10)
    with pytest.raises(ValueError, match="m must be"):
        fourth_moment_step(np.eye(2), np.ones(3), np.ones(3), 0.1, 0.0)


def test_lms_experiment_refuses_learning_rates_with_infinite_variance():
    with pytest.raises(ParameterError, match="infinite variance"):
        resolve_params("lms", {"dim": "3", "fractions": "0.05,0.7"})
    assert resolve_params("lms", {"dim": "3", "fractions": "0.05,0.55"})["fractions"] == (
        0.05, 0.55)
