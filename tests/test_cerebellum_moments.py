"""Exact moments of online learning in the cerebellar task against the rule, simulated."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.cerebellum import CerebellarTask
from numerics.cerebellum.moments import (
    NotMeanSquareStable,
    OnlineRule,
    dynamic_learning_speed,
    dynamic_speed_expansion,
    max_stable_gamma,
    mean_square_radius,
    propagate_moments,
    small_gamma_stationary,
    static_learning_speed,
    stationary_moments,
)
from numerics.integrate import DivergenceError
from numerics.sim.cerebellum import simulate_online_learning
from validate.compare import compare


@pytest.fixture(scope="module")
def small():
    """q = 1 and q = 2 over a 50 s trajectory (50 updates per period): fast."""
    return [CerebellarTask(q, seed=2, duration_s=50.0) for q in (1, 2)]


def _w0(task, seed=0):
    return np.random.default_rng(seed).normal(0, 1 / np.sqrt(task.n_weights), task.n_weights)


def test_noise_free_simulation_equals_exact_moments(small):
    rules = [OnlineRule(g, noise="none", decay=3e-3) for g in (0.02, 0.2)]
    w0 = {t.q: _w0(t, t.q) for t in small}
    ens = simulate_online_learning(small, rules, 120, replicas=1,
                                   start=lambda task, rule: (w0[task.q], None))
    for ci, c in enumerate(ens.configs):
        exact = propagate_moments(small[c.task_index], c.rule, 120, w0=w0[c.q]).expected_loss
        np.testing.assert_allclose(ens.mean[ci], exact, rtol=1e-11)


def test_static_speed_is_the_exact_first_update_and_its_optimum(small):
    task = small[0]
    w0 = _w0(task)
    for noise in ("none", "step", "proportional", "additive"):
        rule = OnlineRule(0.1, noise=noise, decay=3e-3, noise_std=0.01, snr=2.0)
        st_ = static_learning_speed(task, rule, w0)
        tr = propagate_moments(task, rule, 1, w0=w0)
        assert st_["speed"] == pytest.approx(1 - tr.expected_loss[1] / tr.expected_loss[0],
                                             rel=1e-10, abs=1e-14)
        g = st_["gamma_opt"]

        def one(gg, noise=noise):
            t1 = propagate_moments(task, OnlineRule(gg, noise=noise, decay=3e-3,
                                                    noise_std=0.01, snr=2.0), 1, w0=w0)
            return 1 - t1.expected_loss[1] / t1.expected_loss[0]

        assert one(g) == pytest.approx(st_["speed_max"], rel=1e-9)
        assert one(g) > one(0.9 * g) and one(g) > one(1.1 * g)


def test_dynamic_speed_expansion_error_is_third_order(small):
    task = small[1]
    w0 = _w0(task, 3)
    errs = []
    for g in (0.02, 0.01, 0.005):
        rule = OnlineRule(g, noise="proportional", decay=3e-3)
        exact = dynamic_learning_speed(task, rule, w0, 15)
        approx = float(dynamic_speed_expansion(task, rule, w0, 15).speed(g))
        errs.append(abs(exact - approx))
    # O(gamma^3): halving gamma divides the error by ~8
    assert 6.0 < errs[0] / errs[1] < 10.0 and 6.0 < errs[1] / errs[2] < 10.0


def test_stationary_state_is_periodic_and_reached_from_any_start(small):
    task = small[0]
    rule = OnlineRule(0.5, noise="step", decay=1.0)  # slowest mode: 0.81 per period
    ss = stationary_moments(task, rule)
    assert ss.radius < 0.82
    K = ss.phase_loss.size
    tr = propagate_moments(task, rule, K, x0=ss.mean[:ss.n_x], w0=ss.mean_w, cov0=ss.cov)
    np.testing.assert_allclose(tr.expected_loss[:K], ss.phase_loss, rtol=1e-9)
    np.testing.assert_allclose(tr.expected_loss[K], ss.phase_loss[0], rtol=1e-9)
    # from rest, the moments converge to the same periodic state
    far = propagate_moments(task, rule, 100 * K, w0=_w0(task))
    assert far.expected_loss[-1] == pytest.approx(ss.phase_loss[0], rel=1e-6)


@pytest.mark.parametrize("noise", ["step", "proportional"])
def test_small_gamma_limit_is_approached(small, noise):
    task = small[0]
    errs = []
    for g in (0.02, 0.01, 0.005, 0.0025):
        rule = OnlineRule(g, noise=noise, decay=0.01)
        errs.append(abs(stationary_moments(task, rule).loss
                        - small_gamma_stationary(task, rule).loss))
    assert errs[-1] < errs[0] / 2.5
    exact = stationary_moments(task, OnlineRule(0.0025, noise=noise, decay=0.01)).loss
    assert errs[-1] < 0.1 * exact


def test_fixed_point_of_the_lms_like_rule_is_biased(small):
    """The rule correlates the error with h, not with the loop-filtered activity: its
    fixed point is not w*, and the bias is exact (noise-free steady state at small gamma)."""
    task = small[1]
    rule = OnlineRule(0.002, noise="none", decay=1e-3)
    sg = small_gamma_stationary(task, rule)
    assert sg.bias > 0.05 * task.L_min
    ss = stationary_moments(task, rule)
    assert ss.loss == pytest.approx(sg.loss_fix, rel=0.05)


@settings(max_examples=15)
@given(frac=st.floats(0.02, 0.8), noise=st.sampled_from(["step", "proportional"]))
def test_stationary_covariance_is_psd_and_loss_above_minimum(small, frac, noise):
    task = small[0]
    rule = OnlineRule(frac * 0.9, noise=noise, decay=3e-3)
    ss = stationary_moments(task, rule)
    np.testing.assert_allclose(ss.cov, ss.cov.T, atol=1e-14 * np.abs(ss.cov).max())
    ev = np.linalg.eigvalsh(ss.cov)
    assert ev[0] >= -1e-9 * ev[-1]
    assert np.all(ss.phase_loss >= task.L_min * (1 - 1e-9))
    assert np.all(ss.phase_loss >= ss.loss_of_mean - 1e-15)


def test_proportional_noise_second_moment_against_simulation(small):
    """Strong proportional noise (snr = 0.5): the trace term matters and is right."""
    task = small[1]
    w0 = _w0(task, 7)
    rule = OnlineRule(0.1, noise="proportional", snr=0.5, decay=3e-3)
    n = 60
    tr = propagate_moments(task, rule, n, w0=w0)
    ens = simulate_online_learning(task, rule, n, replicas=600, seed=11,
                                   start=lambda t, r: (w0, None), record_updates=[20, 40, 60])
    idx = ens.updates
    good = compare("E[L]", tr.expected_loss[idx], ens.mean[0], ens.sem[0])
    assert good.passed, good.summary()
    mean_only = compare("L(m)", tr.loss_of_mean[idx], ens.mean[0], ens.sem[0])
    assert not mean_only.passed
    doubled = compare("2 tr", tr.loss_of_mean[idx] + 2 * tr.trace_term[idx], ens.mean[0],
                      ens.sem[0])
    assert not doubled.passed


def test_beyond_mean_square_stability_is_an_error(small):
    task = small[0]
    base = OnlineRule(0.1, noise="proportional", snr=0.5, decay=3e-3)
    g_max = max_stable_gamma(task, base, rtol=1e-2)
    assert mean_square_radius(task, base.with_gamma(0.9 * g_max)) < 1
    stationary_moments(task, base.with_gamma(0.9 * g_max))
    with pytest.raises(NotMeanSquareStable, match="gamma"):
        stationary_moments(task, base.with_gamma(1.2 * g_max))
    with pytest.raises(DivergenceError, match="gamma"):
        propagate_moments(task, base.with_gamma(2.5 * g_max), 4000, w0=_w0(task))
    with pytest.raises(DivergenceError, match="gamma"):
        simulate_online_learning(task, base.with_gamma(4 * g_max), 4000, replicas=2,
                                 start=lambda t, r: (_w0(t), None))


def test_without_decay_no_steady_state_is_in_reach():
    task = CerebellarTask(6, seed=0, duration_s=100.0)
    with pytest.raises(NotMeanSquareStable, match="decay"):
        stationary_moments(task, OnlineRule(0.01, noise="step", decay=0.0))


def test_rule_bad_inputs_name_the_parameter(small):
    with pytest.raises(ValueError, match="gamma must be in"):
        OnlineRule(-0.1)
    with pytest.raises(ValueError, match="gamma must be in"):
        OnlineRule(float("nan"))
    with pytest.raises(TypeError, match="gamma must be a real number"):
        OnlineRule("fast")
    with pytest.raises(ValueError, match="noise must be one of"):
        OnlineRule(0.1, noise="pink")
    with pytest.raises(ValueError, match="error_window_s"):
        OnlineRule(0.1, error_window_s=(0.5, 1.0))
    with pytest.raises(ValueError, match="snr must be in"):
        OnlineRule(0.1, snr=0.0)
    with pytest.raises(ValueError, match="activity_lag_s .* multiple of the task's dt"):
        propagate_moments(small[0], OnlineRule(0.1, activity_lag_s=0.13), 3)


def test_learning_geometry_matches_the_static_speed_and_scaling_law_optimum(small):
    from numerics.cerebellum.moments import expansion_scaling_law, learning_geometry

    task = small[1]
    w0 = _w0(task, 4)
    rule = OnlineRule(0.05, noise="none", decay=0.0)
    geo = learning_geometry(task, rule, w0)
    st_ = static_learning_speed(task, rule, w0)
    # p_g = d . grad L = -|d| |grad L| gamma_o and p_H = d' R d = |d|^2 hess_proj / 2
    assert st_["grad_proj"] == pytest.approx(-geo["update_norm"] * geo["grad_norm"]
                                             * geo["gamma_o"], rel=1e-10)
    assert st_["hess_proj"] == pytest.approx(geo["update_norm"] ** 2 * geo["hess_proj"] / 2,
                                             rel=1e-10)
    kw = dict(gamma_o=0.7, grad_norm=0.2, hess_proj=0.3, trH_N=0.05, eta=0.01, L_ss=1e-3,
              exponent=0.85)
    for q in (1.0, 4.0, 9.0):
        g_opt = float(expansion_scaling_law(q, 0.1, **kw)["gamma_opt"])
        grid = np.linspace(0.5, 1.5, 201) * g_opt
        speeds = expansion_scaling_law(q, grid, **kw)["speed"]
        assert abs(grid[np.argmax(speeds)] / g_opt - 1) < 0.006
