"""Mean flow, alignment time and moment ODEs of the SL/RL perceptron (numerics.perceptron)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from numerics.perceptron import (
    alignment,
    alignment_time,
    anisotropic_covariance,
    asymptotic_norm,
    mean_drift,
    mean_drift_two_class,
    mean_flow,
    moment_flow,
)


def _task(n=4, seed=0):
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=n)
    mu /= np.linalg.norm(mu)
    A = rng.normal(size=(n, n))
    return rng, mu, A @ A.T / n


@pytest.mark.parametrize("rule", ["sl", "rl"])
def test_batch_drift_matches_single(rule):
    rng, mu, S = _task()
    W = rng.normal(size=(3, 4))
    batch = mean_drift(rule, W, mu, S, lam=0.2)
    for i in range(3):
        np.testing.assert_allclose(batch[i], mean_drift(rule, W[i], mu, S, lam=0.2), rtol=1e-12)
    two = mean_drift_two_class(rule, W[0], mu, S, -mu, S, lam=0.2)
    np.testing.assert_allclose(two, batch[0], rtol=1e-12)


@pytest.mark.parametrize("rule", ["sl", "rl"])
def test_mean_flow_reaches_alignment_at_alignment_time(rule):
    rng, mu, S = _task()
    w0 = 0.1 * rng.normal(size=4)
    t_hit = alignment_time(rule, mu, S, w0, threshold=0.8)
    assert 0 < t_hit < 100
    traj = mean_flow(rule, mu, S, w0, [t_hit])
    assert alignment(mu, traj.y[:, -1]) == pytest.approx(0.8, abs=1e-6)


def test_alignment_time_errors_and_inf():
    rng, mu, S = _task()
    w0 = 0.1 * rng.normal(size=4)
    for bad in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="threshold"):
            alignment_time("sl", mu, S, w0, threshold=bad)
    with pytest.raises(ValueError, match="positive semidefinite"):
        alignment_time("sl", mu, -np.eye(4), w0)
    with pytest.raises(ValueError, match="dimension"):
        alignment_time("sl", mu, np.eye(3), w0)
    with pytest.raises(ValueError, match="w0"):
        alignment_time("sl", mu, S, np.ones(5))
    with pytest.raises(ValueError, match="rule"):
        alignment_time("sgd", mu, S, w0)
    # an alignment of 0.999999 is not reached by t_max = 1: documented inf, not an error
    assert alignment_time("sl", mu, 4 * np.eye(4), w0, threshold=0.999999, t_max=1.0) == math.inf


def test_asymptotic_norm_errors():
    with pytest.raises(ValueError, match="lam > 0 or sigma > 0"):
        asymptotic_norm("sl", 0.0, 0.0)
    with pytest.raises(ValueError, match="lam > 0"):
        asymptotic_norm("rl", 1.0, 0.0)
    assert asymptotic_norm("sl", 1.0, 0.0) > 0


def test_moment_flow_shapes():
    rng, mu, S = _task()
    mf = moment_flow("sl", mu, S, rng.normal(size=4), 0.1 * np.eye(4), [0.0, 1.0, 2.0], lam=0.1)
    assert mf.mean.shape == (3, 4) and mf.cov.shape == (3, 4, 4) and mf.trace_cov.shape == (3,)
    assert mf.trace_cov[0] == pytest.approx(0.4)
    assert np.all(np.diff(mf.trace_cov) < 0)
    assert anisotropic_covariance(mu, 0.5).shape == (4, 4)


# ------------------------------------------------------------- moment ODE vs generic engine


@pytest.mark.parametrize("rule", ["sl", "rl"])
def test_moment_rhs_equals_generic_kramers_moyal_engine(rule):
    """The matrix-vector assembly equals theory.moments.derive_moments applied to the
    symbolic drift (N = 2, general two-class task), i.e. eqs. (10)-(11) term by term, for the
    Taylor coefficient 1/2 and the seed code's 1."""
    import sympy as sp

    from numerics.compile import compile_rhs
    from numerics.perceptron import _model, _moment_rhs
    from theory.moments import derive_moments
    from theory.perceptron import drift_vector

    rng = np.random.default_rng(7)
    mp, mm = rng.normal(size=2), rng.normal(size=2)
    A, B = rng.normal(size=(2, 2)), rng.normal(size=(2, 2))
    Sp, Sm = A @ A.T / 2, B @ B.T / 2 + 0.2 * np.eye(2)
    lam = 0.3
    w = sp.symbols("w0:2", real=True)
    corr = sp.Symbol("corr", positive=True)

    def mat(M):
        return sp.Matrix(M.shape[0], M.shape[1], [sp.Float(v, 30) for v in M.ravel()])

    F = drift_vector(rule, w, mat(mp[:, None]), mat(Sp), mat(mm[:, None]), mat(Sm),
                     sp.Float(lam, 30))
    system = derive_moments(F, w, correction=corr)
    rhs, state, params = compile_rhs(system)
    assert params == (corr,)
    model = _model(rule, mp, Sp, mm, Sm, lam)
    for correction in (0.5, 1.0):
        m = rng.normal(size=2)
        G = rng.normal(size=(2, 2))
        C = 0.3 * G @ G.T
        ref = rhs(0.0, np.array([m[0], m[1], C[0, 0], C[0, 1], C[1, 1]]), (correction,))
        dm, dC = _moment_rhs(model, m, C, correction)
        got = np.array([dm[0], dm[1], dC[0, 0], dC[0, 1], dC[1, 1]])
        np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-12)


def test_trace_rate_at_zero_noise_is_corrected_eq27():
    """d tr C/dt at sigma = 0 from the moment ODE equals
    -(1/2) exp(-pi (mu.w)^2/16) mu^T C mu - 2 lam tr C (not the seed's printed 1/4)."""
    from numerics.perceptron import _model, _moment_rhs

    rng, mu, _ = _task(n=6, seed=3)
    mu = 1.3 * mu
    lam = 0.2
    model = _model("sl", mu, np.zeros((6, 6)), None, None, lam)
    for _ in range(5):
        m = rng.normal(size=6)
        G = rng.normal(size=(6, 6))
        C = G @ G.T / 6
        _, dC = _moment_rhs(model, m, C, 0.5)
        rate = np.trace(dC)
        expected = -0.5 * np.exp(-np.pi * (mu @ m) ** 2 / 16) * mu @ C @ mu - 2 * lam * np.trace(C)
        assert rate == pytest.approx(expected, rel=1e-12)


# ------------------------------------------------------------------ qualitative findings


def _fig3_setup(n=10, seed=0):
    rng = np.random.default_rng(seed)
    mu = np.zeros(n)
    mu[0] = 1.0
    return mu, rng.normal(size=n) / np.sqrt(n)  # |w0| ~ 1, alignment ~ -0.2


def test_noise_speeds_sl_but_not_rl():
    """Seed Fig. 3A: time to 80% alignment falls with isotropic sigma for SL, not for RL."""
    mu, w0 = _fig3_setup()
    sigmas = (0.1, 0.5, 1.0, 1.5, 2.0)
    t_sl = [alignment_time("sl", mu, s**2 * np.eye(10), w0) for s in sigmas]
    t_rl = [alignment_time("rl", mu, s**2 * np.eye(10), w0) for s in sigmas]
    assert np.all(np.diff(t_sl) < 0), t_sl
    assert t_sl[-1] < 0.5 * t_sl[0]
    assert not np.any(np.diff(t_rl) < 0), t_rl  # RL: noise does not speed learning here


def test_noise_along_mu_slows_orthogonal_noise_speeds_both_rules():
    """Seed Fig. 3C: sigma_par^2 = 1 + eps, sigma_perp^2 = 1 - eps."""
    mu, w0 = _fig3_setup()
    eps = (-0.8, -0.4, 0.0, 0.4, 0.8)
    for rule in ("sl", "rl"):
        t = [alignment_time(rule, mu, anisotropic_covariance(mu, e), w0) for e in eps]
        assert np.all(np.diff(t) > 0), (rule, t)


def test_trace_covariance_decays_faster_with_more_noise():
    """Seed Fig. 4 (lam = 0.1): tr Cov(w) decays monotonically, faster for larger sigma."""
    mu, w0 = _fig3_setup()
    t = np.linspace(0, 10, 6)
    for rule in ("sl", "rl"):
        traces = []
        for s in (0.1, 0.5, 1.0):
            mf = moment_flow(rule, mu, s**2 * np.eye(10), w0, 0.1 * np.eye(10), t, lam=0.1)
            assert np.all(np.diff(mf.trace_cov) < 0)
            traces.append(mf.trace_cov[1:])
        assert np.all(traces[1] < traces[0]) and np.all(traces[2] < traces[1]), rule


def test_mean_flow_converges_to_asymptotic_norm():
    mu = np.array([0.0, 1.0, 0.0])
    for rule, sigma, lam in (("sl", 1.0, 0.0), ("rl", 0.5, 0.5), ("sl", 0.0, 0.5)):
        traj = mean_flow(rule, mu, sigma**2 * np.eye(3), [0.3, -0.2, 0.1], [300.0], lam=lam)
        w = traj.y[:, -1]
        assert alignment(mu, w) == pytest.approx(1.0, abs=1e-6)
        assert np.linalg.norm(w) == pytest.approx(asymptotic_norm(rule, sigma, lam), rel=1e-4)


def test_mean_flow_is_fast_at_64x64():
    """N = 4096 (64 x 64 images) with an isotropic and a general covariance."""
    import time

    rng = np.random.default_rng(1)
    n = 4096
    mu = rng.normal(size=n) / np.sqrt(n)
    w0 = rng.normal(size=n) / np.sqrt(n)
    start = time.perf_counter()
    t_iso = alignment_time("sl", mu, 0.5 * np.eye(n), w0, t_max=200.0)
    G = rng.normal(size=(n, 64)) / 8
    traj = mean_flow("rl", mu, 0.3 * np.eye(n) + G @ G.T / 8, w0, [0.0, 5.0], lam=0.1)
    elapsed = time.perf_counter() - start
    assert np.isfinite(t_iso) and traj.y.shape == (n, 2)
    assert elapsed < 30.0


def test_more_bad_inputs_and_edge_cases():
    rng, mu, S = _task()
    # w0 = 0: alignment is defined as 0 there and the flow leaves the origin along mu
    assert 0 < alignment_time("sl", mu, S, np.zeros(4)) < 100
    with pytest.raises(ValueError, match="symmetric"):
        mean_drift("sl", np.ones(4), mu, S + np.triu(np.ones((4, 4)), 1))
    with pytest.raises(ValueError, match="NaN"):
        mean_drift("rl", np.array([np.nan, 0, 0, 0]), mu, S)
    with pytest.raises(ValueError, match="lam"):
        mean_drift("sl", np.ones(4), mu, S, lam=-1.0)
    with pytest.raises(ValueError, match="C0"):
        moment_flow("sl", mu, S, np.ones(4), np.eye(3), [1.0])
    with pytest.raises(ValueError, match="t_eval"):
        moment_flow("sl", mu, S, np.ones(4), np.eye(4), [2.0, 1.0])
    # large-N path (Cholesky instead of eigvalsh) rejects a non-PSD covariance too
    n = 600
    G = rng.normal(size=(n, 5))
    bad = G @ G.T - 1e-3 * np.eye(n)
    with pytest.raises(ValueError, match="positive semidefinite"):
        mean_drift("sl", np.ones(n), np.ones(n), bad)
    with pytest.raises(ValueError, match="positive semidefinite"):
        mean_drift("sl", np.ones(n), np.ones(n), -np.eye(n))
    good = G @ G.T + 0.1 * np.eye(n)
    assert mean_drift("sl", np.ones(n) / n, np.ones(n) / n, good).shape == (n,)


def _ensemble_of_flows(rule, mu, S, m0, c0, lam, t, nodes=24):
    """Exact (Gauss-Hermite) mean and covariance over w0 ~ N(m0, c0 I) of the deterministic
    flows w' = <f>(w): the eta -> 0 process that eqs. (10)-(11) approximate."""
    from numerics.integrate import integrate

    x, wts = np.polynomial.hermite_e.hermegauss(nodes)
    wts = wts / wts.sum()
    X, Y = np.meshgrid(x, x)
    weights = np.outer(wts, wts).ravel()
    pts = m0 + np.sqrt(c0) * np.stack([X.ravel(), Y.ravel()], axis=1)
    R = pts.shape[0]
    traj = integrate(lambda tt, y: mean_drift(rule, y.reshape(R, 2), mu, S, lam).ravel(),
                     (0.0, float(t[-1])), pts.ravel(), t_eval=t, method="RK45", rtol=1e-10,
                     atol=1e-12)
    ys = traj.y.T.reshape(len(t), R, 2)
    mean = np.einsum("r,trk->tk", weights, ys)
    d = ys - mean[:, None]
    return mean, np.einsum("r,trk,trl->tkl", weights, d, d)


@pytest.mark.parametrize("rule", ["sl", "rl"])
def test_moment_equations_match_ensemble_of_flows_and_half_is_the_right_factor(rule):
    """Eqs. (10)-(11) against the exact ensemble of deterministic flows: with correction 1/2
    the mean error is second order in C0 and far below the errors with 0 or with the seed
    code's 1; the covariance error is second order in C0 as well."""
    mu, S, m0, lam = np.array([1.0, 0.0]), 0.5 * np.eye(2), np.array([0.2, 0.5]), 0.1
    t = np.array([1.0, 3.0, 6.0])
    errs = {}
    for c0 in (0.05, 0.025):
        em, ec = _ensemble_of_flows(rule, mu, S, m0, c0, lam, t)
        for corr in (0.0, 0.5, 1.0):
            mf = moment_flow(rule, mu, S, m0, c0 * np.eye(2), t, lam=lam, correction=corr,
                             rtol=1e-10, atol=1e-12)
            errs[c0, corr] = (np.abs(mf.mean - em).max(), np.abs(mf.cov - ec).max(),
                              np.abs(ec).max())
    m_half, c_half, c_size = errs[0.05, 0.5]
    assert m_half < errs[0.05, 0.0][0] / 10 and m_half < errs[0.05, 1.0][0] / 10
    assert c_half < 0.05 * c_size
    # halving C0 divides the closure errors by ~4 (second order), the 0/1 errors by ~2
    assert errs[0.025, 0.5][0] < m_half / 3
    assert errs[0.025, 0.5][1] < c_half / 3
    assert errs[0.025, 1.0][0] > errs[0.05, 1.0][0] / 2.5


# ------------------------------------------------------- fast paths, N = 64 x 64 moment ODEs


def _forced_dense(model):
    """The same model with its (isotropic/diagonal) covariance treated as a general matrix."""
    from numerics.perceptron import _Class

    def dense(cl):
        S = cl.Sigma if cl.Sigma is not None else cl.iso * np.eye(cl.mu.size)
        return _Class(cl.mu, S, None, None)

    return replace(model, pos=dense(model.pos), neg=dense(model.neg))


@pytest.mark.parametrize("rule", ["sl", "rl"])
def test_isotropic_and_diagonal_fast_paths_equal_the_general_matrix_path(rule):
    """The O(N^2) moment right-hand sides (isotropic: a scalar; diagonal: row/column scaling;
    scalar Sigma: no matrix at all) equal the general Sigma @ C assembly, which itself equals
    the generic Kramers-Moyal engine (test above); one- and two-class tasks."""
    from numerics.perceptron import _model, _moment_rhs

    rng = np.random.default_rng(11)
    n = 7
    mu, mu_neg = rng.normal(size=n), rng.normal(size=n)
    d1, d2 = rng.uniform(0.1, 2.0, size=n), rng.uniform(0.1, 2.0, size=n)
    tasks = [(0.6, None, None), (0.6 * np.eye(n), None, None), (np.diag(d1), None, None),
             (np.diag(d1), mu_neg, np.diag(d2)), (0.6, mu_neg, np.diag(d2)),
             (np.diag(d1), mu_neg, 0.3 * np.eye(n))]
    for S, mn, Sn in tasks:
        model = _model(rule, mu, S, mn, Sn, 0.2)
        assert model.pos.iso is not None or model.pos.diag is not None
        ref_model = _forced_dense(model)
        for _ in range(3):
            m = rng.normal(size=n)
            G = rng.normal(size=(n, n))
            C = 0.2 * G @ G.T
            dm, dC = _moment_rhs(model, m, C, 0.5)
            rm, rC = _moment_rhs(ref_model, m, C, 0.5)
            np.testing.assert_allclose(dm, rm, rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(dC, rC, rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(dC, dC.T, rtol=1e-12, atol=1e-14)


def _householder(n, seed):
    rng = np.random.default_rng(seed)
    v = rng.normal(size=n)
    v /= np.linalg.norm(v)

    def H(x):
        return x - 2.0 * v * (v @ x)

    return H


def test_moment_rhs_at_64x64_is_quadratic_and_zero_covariance_stays_zero():
    """N = 4096: with C = 0 the covariance rate is exactly 0 (so C0 = 0 stays 0 under any
    Runge-Kutta method) and the mean rate is the mean drift, i.e. the moment ODE reduces to
    the mean flow; a diagonal Sigma takes the O(N^2) path (an N^3 product Sigma C would take
    ~10 s or more here; one evaluation takes ~0.1 s)."""
    import time

    from numerics.perceptron import _model, _moment_rhs

    n = 4096
    rng = np.random.default_rng(3)
    mu = rng.normal(size=n) / np.sqrt(n)
    m = rng.normal(size=n) / np.sqrt(n)
    zero = np.zeros((n, n))
    for rule, S in (("sl", 0.5), ("rl", np.diag(rng.uniform(0.2, 1.0, size=n)))):
        model = _model(rule, mu, S, None, None, 0.1)
        start = time.perf_counter()
        dm, dC = _moment_rhs(model, m, zero, 0.5)
        elapsed = time.perf_counter() - start
        assert not dC.any()
        np.testing.assert_allclose(dm, mean_drift(rule, m, mu, S, lam=0.1), rtol=1e-13,
                                   atol=1e-16)
        C = 1e-3 * np.eye(n)
        C[:3, :3] += 1e-3
        start = time.perf_counter()
        _moment_rhs(model, m, C, 0.5)
        elapsed = max(elapsed, time.perf_counter() - start)
        assert elapsed < 3.0, f"one N = {n} moment right-hand side took {elapsed:.2f} s"


def test_moment_flow_at_64x64_equals_its_three_dimensional_reduction():
    """N = 4096, Sigma = s I (passed as a scalar), C0 = c I, mu and w0 in a random plane
    (a Householder image H of span{e1, e2}).  By rotation invariance C stays
    H (B (+) alpha I_{N-2}) H with the mean in the plane, and the orthogonal block enters the
    mean only through tr(Sigma C) and evolves linearly; so the exact reduction is the N = 3
    problem with C0 = diag(c, c, (N-2) c): same mean (mapped by H), same tr C.  The
    correction moves the mean by ~0.04 here, 4000 x the agreement required.  (Each
    Runge-Kutta step at N = 4096 moves ~20 copies of the 134 MB state: ~3-8 s here.)"""
    import time

    n, s, lam, c = 4096, 0.5, 0.1, 1e-3
    H = _householder(n, 5)
    e1, e2 = np.eye(n, 2, 0).T
    mu, w0 = H(e1), H(0.3 * e1 - 0.5 * e2)
    t = np.array([0.0, 0.1, 0.2])  # 0.1 is read off the dense output
    C3 = np.diag([c, c, (n - 2) * c])
    ref = moment_flow("rl", [1, 0, 0], s, [0.3, -0.5, 0.0], C3, t, lam=lam, rtol=1e-10,
                      atol=1e-13)
    no_corr = moment_flow("rl", [1, 0, 0], s, [0.3, -0.5, 0.0], C3, t, lam=lam,
                          correction=0.0, rtol=1e-10, atol=1e-13)
    assert np.abs(ref.mean - no_corr.mean).max() > 0.03
    assert np.abs(ref.mean[:, 2]).max() == 0.0
    start = time.perf_counter()
    mf = moment_flow("rl", mu, s, w0, c * np.eye(n), t, lam=lam, rtol=1e-4, atol=1e-7)
    elapsed = time.perf_counter() - start
    mapped = np.outer(ref.mean[:, 0], H(e1)) + np.outer(ref.mean[:, 1], H(e2))
    np.testing.assert_allclose(mf.mean, mapped, rtol=0, atol=1e-5)
    np.testing.assert_allclose(mf.trace_cov, ref.trace_cov, rtol=1e-5)
    np.testing.assert_allclose(mf.alignment, ref.alignment, rtol=0, atol=1e-5)
    assert mf.cov is None  # N > 100: only the trace is kept
    assert elapsed < 60.0, f"N = {n} moment ODE on [0, 0.2] took {elapsed:.1f} s"


@pytest.mark.parametrize("rule", ["sl", "rl"])
def test_quadrature_drift_equals_the_closed_form_for_erf_and_differs_for_logistic(rule):
    """mean_drift_sigmoid (Stein + trapezoid quadrature of the lambdified update factor) is the
    closed-form drift for the erf sigmoid to 1e-12, at |w| up to 5 and sigma up to 2; with the
    logistic sigmoid it is a different drift (the paper's model error)."""
    from numerics.perceptron import mean_drift_sigmoid

    rng = np.random.default_rng(4)
    for _ in range(6):
        w = rng.normal(size=3) * rng.uniform(0.1, 3.0)
        mu = rng.normal(size=3)
        s2, lam = rng.uniform(0, 4), rng.uniform(0, 1)
        ref = mean_drift(rule, w, mu, s2 * np.eye(3), lam)
        np.testing.assert_allclose(mean_drift_sigmoid(rule, w, mu, s2, lam, "erf"), ref,
                                   rtol=1e-11, atol=1e-12)
        assert np.max(np.abs(mean_drift_sigmoid(rule, w, mu, s2, lam, "logistic") - ref)) > 1e-4
