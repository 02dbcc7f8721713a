"""Derived SL/RL perceptron drifts (theory.perceptron) vs the seed's printed equations and vs
Monte Carlo of the update rules themselves (seed 002, Schmid & Murray)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq
from scipy.special import erf, erfc, ndtr, owens_t

from numerics.compile import compile_scalar
from numerics.perceptron import (
    _fixed_point_fn,
    anisotropic_covariance,
    asymptotic_norm,
    mean_drift,
    mean_drift_two_class,
    reduced_rates,
)
from theory.catalog import get_model
from theory.perceptron import (
    K,
    anisotropy_coefficient,
    class_scalars,
    class_update_factor,
    log_alignment_rate,
    noise_coefficient,
    sigmoid,
    small_noise_drift,
    small_noise_trace_rate,
)
from validate.compare import sidak_bound

k = float(K)


def _phi_n(z):
    return np.exp(-z**2 / 2) / np.sqrt(2 * np.pi)


# ---- the seed's printed equations, typed here only as references for the tests ----------

def eq15(w, mp, Sp, mm, Sm, lam):
    """Seed eq. (15) (+ the -lambda w term)."""
    wt = k * w
    out = -lam * w
    for sgn, mu, S in ((1, mp, Sp), (-1, mm, Sm)):
        a, b2 = mu @ wt, wt @ S @ wt
        s = np.sqrt(1 + b2)
        first = 0.5 * mu * (1 - ndtr(a / s)) if sgn == 1 else -0.5 * mu * ndtr(a / s)
        out = out + first - 0.5 / np.sqrt(2 * np.pi) * (S @ wt) / s * np.exp(-a**2 / (2 * s**2))
    return out


def eq20(w, mp, Sp, mm, Sm, lam):
    """Seed eq. (20) (+ the -lambda w term)."""
    wt = k * w
    out = -lam * w
    for sgn, mu, S in ((1, mp, Sp), (-1, mm, Sm)):
        a, b2 = mu @ wt, wt @ S @ wt
        s, r = np.sqrt(1 + b2), np.sqrt(1 + 2 * b2)
        term = ((S @ wt) / (np.sqrt(2 * np.pi) * s) * np.exp(-a**2 / (2 * s**2))
                * (1 - 2 * ndtr(a / (s * r))) + 2 * mu * owens_t(a / s, 1 / r))
        out = out + sgn * term
    return out


def eq18_19(P, W, sigma):
    """Seed eqs. (18)-(19), |mu| = 1: (d mu.w/dt, d|w|^2/dt)."""
    s = np.sqrt(1 + sigma**2 * k**2 * W)
    h = k * P / s
    e = np.exp(-h**2 / 2)
    dP = (1 - ndtr(h)) - sigma**2 * k * P / (np.sqrt(2 * np.pi) * s) * e
    dW = 2 * P * (1 - ndtr(h)) - 2 / np.sqrt(2 * np.pi) * sigma**2 * k * W / s * e
    return dP, dW


def eq22_23(P, W, sigma):
    """Seed eqs. (22)-(23), |mu| = 1."""
    c = sigma**2 * k**2 * W
    s = np.sqrt(1 + c)
    h = k * P / s
    e = np.exp(-h**2 / 2) * erf(k * P / (s * np.sqrt(2 + 4 * c)))
    T = owens_t(h, 1 / np.sqrt(1 + 2 * c))
    dP = 4 * T - 2 * sigma**2 * k * P / (np.sqrt(2 * np.pi) * s) * e
    dW = 8 * P * T - 4 * sigma**2 * k * W / (np.sqrt(2 * np.pi) * s) * e
    return dP, dW


def eq43(r, sigma):
    """Seed eq. (43), |mu| = 1, lambda = 0."""
    d = 16 + 2 * np.pi * sigma**2 * r**2
    return (r / 2 * erfc(r * np.sqrt(np.pi) / np.sqrt(d))
            - 0.25 * sigma**2 * r**2 / np.sqrt(1 + sigma**2 * r**2 * np.pi / 8)
            * np.exp(-r**2 * np.pi / d))


def _random_task(rng, n=3):
    mp, mm = rng.normal(size=n), rng.normal(size=n)
    A, B = rng.normal(size=(n, n)), rng.normal(size=(n, n))
    return mp, A @ A.T / n, mm, B @ B.T / n + 0.1 * np.eye(n)


# ------------------------------------------------------------------------ drifts


def test_rl_baseline_cancels_and_factor_is_2y_phi_phi():
    s = sp.Symbol("s", real=True)
    for y in (1, -1):
        G = class_update_factor("rl", y, s)
        assert not G.has(sp.Symbol("B", real=True))
        assert sp.simplify(G - 2 * y * sigmoid(s) * sigmoid(-s)) == 0


def test_sigmoid_is_rescaled_normal_cdf():
    z = sp.Symbol("z", real=True)
    Phi_kz = (1 + sp.erf(K * z / sp.sqrt(2))) / 2
    assert sp.simplify(sigmoid(z) - Phi_kz) == 0


def test_class_scalars_equal_seed_forms_symbolically():
    """g1, g2 of SL are the brackets of eq. (15); of RL those of eq. (20)."""
    sl, rl = class_scalars("sl"), class_scalars("rl")
    a, c = sl.a, sl.c
    s = sp.sqrt(1 + c)
    Phi = (1 + sp.erf(a / s / sp.sqrt(2))) / 2
    gauss = sp.exp(-a**2 / (2 * (1 + c))) / sp.sqrt(2 * sp.pi) / s
    assert sp.simplify(sl.g1[1] - (1 - Phi)) == 0
    assert sp.simplify(sl.g1[-1] + Phi) == 0
    assert sp.simplify(sl.g2[1] + gauss) == 0 and sp.simplify(sl.g2[-1] + gauss) == 0
    from theory.gaussian import owens_t as T
    a2, c2 = rl.a, rl.c
    s2 = sp.sqrt(1 + c2)
    assert sp.simplify(rl.g1[1] - 4 * T(a2 / s2, 1 / sp.sqrt(1 + 2 * c2))) == 0
    inner = (1 + sp.erf(a2 / (s2 * sp.sqrt(1 + 2 * c2)) / sp.sqrt(2))) / 2
    target = 2 * sp.exp(-a2**2 / (2 * (1 + c2))) / sp.sqrt(2 * sp.pi) / s2 * (1 - 2 * inner)
    for cv in (sp.Rational(3, 10), sp.Rational(17, 7)):
        assert sp.simplify((rl.g2[1] - target).subs(c2, cv)) == 0


@pytest.mark.parametrize("rule,ref", [("sl", eq15), ("rl", eq20)])
@settings(max_examples=25)
@given(seed=st.integers(0, 2**32 - 1), scale=st.floats(0.05, 4.0), lam=st.floats(0.0, 2.0))
def test_general_drift_equals_seed_equation(rule, ref, seed, scale, lam):
    rng = np.random.default_rng(seed)
    mp, Sp, mm, Sm = _random_task(rng)
    w = rng.normal(size=3) * scale
    got = mean_drift_two_class(rule, w, mp, Sp, mm, Sm, lam)
    np.testing.assert_allclose(got, ref(w, mp, Sp, mm, Sm, lam), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("rule", ["sl", "rl"])
@settings(max_examples=20)
@given(seed=st.integers(0, 2**32 - 1))
def test_drift_is_rotation_equivariant(rule, seed):
    """<f>(Qw; Q mu_y, Q Sigma_y Q^T) = Q <f>(w; mu_y, Sigma_y) for orthogonal Q."""
    rng = np.random.default_rng(seed)
    mp, Sp, mm, Sm = _random_task(rng, n=4)
    w = rng.normal(size=4)
    Q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    base = mean_drift_two_class(rule, w, mp, Sp, mm, Sm, 0.2)
    rot = mean_drift_two_class(rule, Q @ w, Q @ mp, Q @ Sp @ Q.T, Q @ mm, Q @ Sm @ Q.T, 0.2)
    np.testing.assert_allclose(rot, Q @ base, rtol=1e-9, atol=1e-12)


def _mc_updates(rule, w, mp, Sp, mm, Sm, lam, n, rng, baseline="input"):
    """n samples of the update f of eq. (12) (SL) or (13) (RL) with the erf sigmoid."""
    y = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    z = rng.normal(size=(n, w.size))
    Lp, Lm = np.linalg.cholesky(Sp + 1e-12 * np.eye(w.size)), np.linalg.cholesky(Sm)
    x = np.where(y[:, None] > 0, mp + z @ Lp.T, mm + z @ Lm.T)
    s = x @ w

    def phi(v):
        return 0.5 * (1 + erf(np.sqrt(np.pi) * v / 4))

    if rule == "sl":
        coef = (y + 1) / 2 - phi(s)
    else:
        yhat = np.where(rng.random(n) < phi(s), 1.0, -1.0)
        B = y * (phi(s) - phi(-s)) if baseline == "input" else 0.3
        coef = yhat * (y * yhat - B) * phi(-yhat * s)
    return coef[:, None] * x - lam * w


@pytest.mark.parametrize("rule", ["sl", "rl"])
def test_drift_matches_monte_carlo_of_update_rule(rule):
    """Per-component z-test with replica standard errors; Sidak bound over all components;
    the same data rejects 2x the theory."""
    rng = np.random.default_rng(2024)
    zs, zs2 = [], []
    for trial in range(3):
        mp, Sp, mm, Sm = _random_task(rng)
        w = rng.normal(size=3)
        f = _mc_updates(rule, w, mp, Sp, mm, Sm, 0.3, 400_000, rng,
                        baseline="input" if trial < 2 else "constant")
        mean, se = f.mean(axis=0), f.std(axis=0, ddof=1) / np.sqrt(f.shape[0])
        th = mean_drift_two_class(rule, w, mp, Sp, mm, Sm, 0.3)
        zs.append((mean - th) / se)
        zs2.append((mean - 2 * th) / se)
    zs, zs2 = np.concatenate(zs), np.concatenate(zs2)
    bound = sidak_bound(zs.size, 0.01)
    assert np.max(np.abs(zs)) < bound, zs
    assert np.max(np.abs(zs2)) > bound, zs2


# ------------------------------------------------------------- isotropic reductions


@pytest.mark.parametrize("rule,ref", [("sl", eq18_19), ("rl", eq22_23)])
def test_isotropic_reduction_equals_seed_and_general_drift(rule, ref):
    rng = np.random.default_rng(3)
    n = 5
    for _ in range(10):
        mu = rng.normal(size=n)
        mu /= np.linalg.norm(mu)
        w = rng.normal(size=n) * rng.uniform(0.2, 3)
        sigma = rng.uniform(0.05, 2)
        P, W = mu @ w, w @ w
        dP, dW = reduced_rates(rule, P, W, sigma_par=sigma)
        rP, rW = ref(P, W, sigma)
        assert dP == pytest.approx(rP, rel=1e-10, abs=1e-13)
        assert dW == pytest.approx(rW, rel=1e-10, abs=1e-13)
        F = mean_drift(rule, w, mu, sigma**2 * np.eye(n), lam=0.2)
        gP, gW = reduced_rates(rule, P, W, sigma_par=sigma, lam=0.2)
        assert mu @ F == pytest.approx(gP, rel=1e-10, abs=1e-13)
        assert 2 * w @ F == pytest.approx(gW, rel=1e-10, abs=1e-13)


@pytest.mark.parametrize("rule", ["sl", "rl"])
def test_anisotropic_reduction_equals_general_drift(rule):
    rng = np.random.default_rng(4)
    n = 4
    for eps in (-0.7, 0.0, 0.4):
        mu = rng.normal(size=n)
        w = rng.normal(size=n)
        S = anisotropic_covariance(mu, eps)
        F = mean_drift(rule, w, mu, S, lam=0.1)
        dP, dW = reduced_rates(rule, mu @ w, w @ w, mu_norm=np.linalg.norm(mu),
                               sigma_par=np.sqrt(1 + eps), sigma_perp=np.sqrt(1 - eps), lam=0.1)
        assert mu @ F == pytest.approx(dP, rel=1e-10)
        assert 2 * w @ F == pytest.approx(dW, rel=1e-10)


# ------------------------------------------------------------------- fixed points


def test_sl_fixed_point_satisfies_eq43_and_is_unique():
    f = _fixed_point_fn("sl")
    r_grid = np.geomspace(1e-3, 1e4, 4000)
    for sigma in (0.1, 0.5, 1.0, 2.0):
        r = asymptotic_norm("sl", sigma, 0.0)
        ref = brentq(lambda x, s=sigma: eq43(x, s), 1e-6, 1e4, xtol=1e-14, rtol=1e-13)
        assert r == pytest.approx(ref, rel=1e-9)
        vals = f(r_grid, sigma**2, 0.0, 1.0)
        assert np.count_nonzero(np.diff(np.sign(vals))) == 1
    for lam in (0.01, 0.1, 1.0):
        for sigma in (0.0, 0.7):
            vals = f(r_grid, sigma**2, lam, 1.0)
            assert np.count_nonzero(np.diff(np.sign(vals))) == 1


def test_fixed_point_is_a_zero_of_the_full_drift():
    mu = np.array([0.6, 0.8, 0.0])
    for rule, sigma, lam in (("sl", 0.5, 0.0), ("sl", 0.0, 0.1), ("rl", 0.5, 0.1),
                             ("rl", 0.0, 0.05)):
        r = asymptotic_norm(rule, sigma, lam)
        F = mean_drift(rule, r * mu, mu, sigma**2 * np.eye(3), lam)
        assert np.max(np.abs(F)) < 1e-10


def test_rl_unique_root_with_decay_and_no_root_without():
    f = _fixed_point_fn("rl")
    r_grid = np.geomspace(1e-3, 1e4, 4000)
    for lam in (0.01, 0.1, 1.0):
        for sigma in (0.0, 0.5, 2.0):
            vals = f(r_grid, sigma**2, lam, 1.0)
            assert np.count_nonzero(np.diff(np.sign(vals))) == 1
    for sigma in (0.3, 1.0, 3.0):
        assert np.all(f(r_grid, sigma**2, 0.0, 1.0) > 0)


def test_asymptotic_norm_decreases_with_log_lambda():
    """Fig. 2E: |w*| falls with ln(lambda) at sigma -> 0."""
    lams = np.geomspace(1e-3, 1.0, 7)
    for rule in ("sl", "rl"):
        r = [asymptotic_norm(rule, 0.0, lam) for lam in lams]
        assert np.all(np.diff(r) < 0)


# ---------------------------------------------------------------- sigma -> 0 (26)-(27)


def test_small_noise_drift_is_eq26():
    w, mu, F = small_noise_drift("sl", 3)
    lam = sp.Symbol("lambda", nonnegative=True)
    target = mu * (1 - sigmoid((mu.T * w)[0, 0])) - lam * w
    assert (F - target).applyfunc(sp.simplify) == sp.zeros(3, 1)


def test_trace_covariance_rate_eq27_with_corrected_factor():
    system, w, mu, rate = small_noise_trace_rate("sl", 2)
    C = system.covariance
    lam = sp.Symbol("lambda", nonnegative=True)
    m = (mu.T * w)[0, 0]
    muCmu = (mu.T * C * mu)[0, 0]
    trC = C.trace()
    derived = -sp.exp(-sp.pi * m**2 / 16) / 2 * muCmu - 2 * lam * trC
    printed = -sp.exp(-sp.pi * m**2 / 16) / 4 * muCmu - 2 * lam * trC
    assert sp.simplify(rate - derived) == 0
    assert sp.simplify(rate - printed) != 0  # the seed's 1/4 is a typo (module docstring)


# ---------------------------------------------------------------- expansions (24)-(25)


def _rate_fn(rule):
    rf, rate = log_alignment_rate(rule)
    return compile_scalar(rate, list(rf.symbols))


def test_sl_noise_coefficient_closed_form_and_series():
    rf, s2, g, h = noise_coefficient("sl")
    target = sp.pi * (rf.M2 * rf.W - rf.P**2) * sp.exp(-sp.pi * rf.P**2 / 16) / 64
    assert sp.simplify(h - target) == 0  # >= 0 by Cauchy-Schwarz: eq. (24)'s sigma^2 h_iso^2
    _, rate = log_alignment_rate("sl")
    iso = rate.subs({rf.s_par: s2, rf.s_perp: s2, rf.lam: 0})
    ser = sp.series(iso.subs({rf.M2: 1, rf.W: 2, rf.P: sp.Rational(1, 2)}), s2, 0, 2).removeO()
    assert float(ser.coeff(s2, 1)) == pytest.approx(float(h.subs({rf.M2: 1, rf.W: 2,
                                                                   rf.P: sp.Rational(1, 2)})))


@pytest.mark.parametrize("rule", ["sl", "rl"])
def test_expansion_coefficients_match_finite_differences(rule):
    rate = _rate_fn(rule)
    rf, s2, g_iso, h_iso = noise_coefficient(rule)
    _, eps, g_an, h_an = anisotropy_coefficient(rule)
    fh_iso = compile_scalar(h_iso, [rf.P, rf.W, rf.M2])
    fh_an = compile_scalar(h_an, [rf.P, rf.W, rf.M2])
    rng = np.random.default_rng(5)
    d = 1e-5
    for _ in range(6):
        W = float(np.exp(rng.uniform(-1, 2)))
        P = float(rng.uniform(0.1, 0.95) * np.sqrt(W))
        fd_iso = (rate(P, W, 1.0, d, d, 0.0) - rate(P, W, 1.0, 0.0, 0.0, 0.0)) / d
        assert fd_iso == pytest.approx(fh_iso(P, W, 1.0), rel=1e-3, abs=1e-6)
        fd_an = (rate(P, W, 1.0, 1 + d, 1 - d, 0.0) - rate(P, W, 1.0, 1 - d, 1 + d, 0.0)) / (2 * d)
        assert fd_an == pytest.approx(fh_an(P, W, 1.0), rel=1e-5, abs=1e-8)


def test_expansion_signs():
    """Eq. (24): SL's sigma^2 coefficient is >= 0; RL's has both signs (indeterminate).
    Eq. (25): SL's epsilon coefficient is < 0 (noise along mu slows learning)."""
    rng = np.random.default_rng(6)
    W = np.exp(rng.uniform(-3, 3, 500))
    P = rng.uniform(0.01, 0.99, 500) * np.sqrt(W)
    vals = {}
    for rule in ("sl", "rl"):
        rf, _, _, h_iso = noise_coefficient(rule)
        _, _, _, h_an = anisotropy_coefficient(rule)
        vals[rule] = (compile_scalar(h_iso, [rf.P, rf.W, rf.M2])(P, W, 1.0),
                      compile_scalar(h_an, [rf.P, rf.W, rf.M2])(P, W, 1.0))
    assert np.all(vals["sl"][0] > 0)
    assert np.all(vals["sl"][1] < 0)
    assert np.any(vals["rl"][0] > 0) and np.any(vals["rl"][0] < 0)


def test_latex_models_registered():
    sl = get_model("perceptron-sl").latex()
    rl = get_model("perceptron-rl").latex()
    assert "g_1^{+}" in sl and "\\operatorname{erf}" in sl and "JC + CJ^\\top" in sl
    assert "T\\left(" in rl


@pytest.mark.slow
@pytest.mark.parametrize("rule", ["sl", "rl"])
def test_drift_matches_monte_carlo_many_points_slow(rule):
    """12 random two-class tasks in N = 5 (incl. large |w|), 2e6 updates each, in blocks
    (independent samples -> exact SEs); Sidak bound over all 60 components; 2x rejected."""
    rng = np.random.default_rng(99)
    zs, zs2 = [], []
    for trial in range(12):
        mp, Sp, mm, Sm = _random_task(rng, n=5)
        w = rng.normal(size=5) * rng.uniform(0.1, 3.0)
        lam = rng.uniform(0, 1)
        sums = np.zeros(5)
        sq = np.zeros(5)
        n_tot = 0
        for _ in range(8):
            f = _mc_updates(rule, w, mp, Sp, mm, Sm, lam, 250_000, rng,
                            baseline="input" if trial % 2 else "constant")
            sums += f.sum(axis=0)
            sq += (f**2).sum(axis=0)
            n_tot += f.shape[0]
        mean = sums / n_tot
        se = np.sqrt((sq / n_tot - mean**2) / (n_tot - 1))
        th = mean_drift_two_class(rule, w, mp, Sp, mm, Sm, lam)
        zs.append((mean - th) / se)
        zs2.append((mean - 2 * th) / se)
    zs, zs2 = np.concatenate(zs), np.concatenate(zs2)
    bound = sidak_bound(zs.size, 0.01)
    assert np.max(np.abs(zs)) < bound, np.max(np.abs(zs))
    assert np.max(np.abs(zs2)) > bound
