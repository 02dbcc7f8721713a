"""Cerebellar task (seed 000): exact quadratic task loss against direct re-simulation."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

import theory.cerebellum as tc
from numerics.cerebellum import (
    CerebellarTask,
    Controller,
    LinearPlant,
    default_controller,
    default_plant,
    fourier_reference,
    pid_controller,
    sampled_loop,
    sines_reference,
)
from numerics.cerebellum.loop import lti_response


@pytest.fixture(scope="module")
def tasks():
    return {q: CerebellarTask(q, seed=3) for q in (1, 3, 9)}


# ---- theory ------------------------------------------------------------------------------

@pytest.mark.parametrize("n_T,N,seed", [(4, 2, 0), (5, 3, 1)])
def test_quadratic_and_factored_forms_equal_the_direct_mean_squared_error(n_T, N, seed):
    assert tc.quadratic_form_check(n_T, N, seed)


def test_expected_loss_is_loss_of_mean_plus_trace():
    assert tc.expected_loss_check(2)


def test_transition_is_the_rule_and_noise_variance_is_derived():
    assert tc.transition_check(2, 2)
    assert tc.noise_variance_check(1, 2)


def test_cerebellum_latex_is_registered():
    from theory.catalog import get_model

    text = get_model("cerebellum").latex()
    assert "{w^{*}}" in text and r"\bar P &= \bar A \bar P \bar A^{\top} + \bar Q" in text


# ---- task loss ---------------------------------------------------------------------------

@pytest.mark.parametrize("q", [1, 3, 9])
def test_task_loss_equals_re_simulation_to_1e10(tasks, q):
    task = tasks[q]
    rng = np.random.default_rng(q)
    for scale in (1.0 / np.sqrt(task.n_weights), 1.0):
        w = rng.normal(0, scale, task.n_weights)
        a, b = task.task_loss(w), task.simulate_task_loss(w)
        assert abs(a - b) <= 1e-10 * b, (a, b)
    # also at w* (huge along directions the granule activity barely spans)
    ws = task.optimal_weights()
    assert abs(task.simulate_task_loss(ws) - task.L_min) <= 1e-8 * task.L_min


@settings(max_examples=25)
@given(seed=st.integers(0, 10_000), scale=st.floats(1e-3, 10.0))
def test_quadratic_form_identity_and_minimum(seed, scale):
    task = _small_task()
    rng = np.random.default_rng(seed)
    w = rng.normal(0, scale, task.n_weights)
    L = task.task_loss(w)
    ws = task.optimal_weights()
    d = w - ws
    quad = d @ task.R @ d + task.L_min
    assert L >= task.L_min * (1 - 1e-12)
    assert abs(L - quad) <= 1e-7 * L
    # gradient 2R(w - w*) and its value from the factored form
    np.testing.assert_allclose(task.task_loss_gradient(w), 2 * task.R @ d,
                               rtol=1e-6, atol=1e-9 * np.abs(2 * task.R @ d).max())


_SMALL = {}


def _small_task():
    if "t" not in _SMALL:
        _SMALL["t"] = CerebellarTask(1, seed=11, duration_s=100.0, reference="fourier")
    return _SMALL["t"]


def test_batch_task_loss_matches_single(tasks):
    task = tasks[3]
    W = np.random.default_rng(0).normal(size=(2, 4, task.n_weights))
    batch = task.task_loss(W)
    assert batch.shape == (2, 4)
    for i in range(2):
        for j in range(4):
            assert batch[i, j] == pytest.approx(task.task_loss(W[i, j]), rel=1e-13)


def test_optimal_weights_have_zero_gradient_and_lowest_loss(tasks):
    task = tasks[1]
    ws = task.optimal_weights()
    g = task.task_loss_gradient(ws)
    assert np.linalg.norm(g) <= 1e-8 * np.linalg.norm(task.task_loss_gradient(np.zeros_like(ws)))
    rng = np.random.default_rng(5)
    for _ in range(5):
        assert task.task_loss(ws + 1e-3 * rng.normal(size=ws.size)) > task.L_min


def test_expansions_nest_and_share_the_reference(tasks):
    small, big = tasks[1], tasks[3]
    np.testing.assert_array_equal(small.r, big.r)
    np.testing.assert_array_equal(big.layer.Z[:10], small.layer.Z)
    np.testing.assert_array_equal(big.layer.bias[:10], small.layer.bias)
    # a bigger layer can only fit better: the optimum uses the smaller layer as a special case
    assert big.L_min <= small.L_min * (1 + 1e-9)
    w = np.zeros(big.n_weights)
    w[:10] = small.optimal_weights()
    assert big.task_loss(w) == pytest.approx(small.L_min, rel=1e-8)


# ---- the sampled loop --------------------------------------------------------------------

def test_zero_order_hold_sampling_is_exact_against_the_ode():
    plant, ctrl = default_plant(), default_controller()
    loop = sampled_loop(plant, ctrl, 0.1)
    rng = np.random.default_rng(0)
    r = rng.normal(size=30)
    z = rng.normal(size=30)
    X = np.zeros(loop.n_states)
    Xd = [X]
    for n in range(30):
        X = loop.Phi @ X + loop.Gamma_r * r[n] + loop.Gamma_z * z[n]
        Xd.append(X)
    g_r = np.concatenate([ctrl.D * plant.B, ctrl.B])
    g_z = np.concatenate([plant.B, np.zeros(ctrl.n_states)])
    Xc = np.zeros(loop.n_states)
    for n in range(30):
        sol = solve_ivp(lambda t, x, n=n: loop.F @ x + g_r * r[n] + g_z * z[n], (0, 0.1), Xc,
                        rtol=1e-12, atol=1e-14)
        Xc = sol.y[:, -1]
        np.testing.assert_allclose(Xc, Xd[n + 1], rtol=1e-8, atol=1e-11)


@settings(max_examples=20)
@given(seed=st.integers(0, 1000), n=st.integers(1, 300), m=st.integers(1, 3),
       block=st.integers(1, 70))
def test_blocked_lti_response_equals_step_by_step(seed, n, m, block):
    rng = np.random.default_rng(seed)
    nx = 3
    A = rng.normal(size=(nx, nx))
    Phi = 0.9 * A / np.max(np.abs(np.linalg.eigvals(A)))
    Gam, H = rng.normal(size=nx), rng.normal(size=nx)
    u = rng.normal(size=(n, m))
    X = np.zeros((nx, m))
    ref = np.empty((n, m))
    for i in range(n):
        ref[i] = H @ X
        X = Phi @ X + np.outer(Gam, u[i])
    out = lti_response(Phi, Gam, H, u, block=block)
    np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-12 * np.abs(ref).max())


def test_pid_mapping_of_the_authors_gains():
    c = default_controller()
    # transfer function at s: kp + ki/s + kd s/(1 + tau s) with (0.1, 0.01, 1, 10)
    s = 0.3j
    tf = c.D + c.C @ np.linalg.solve(s * np.eye(c.n_states) - c.A, c.B)
    P, I, D, RC = 0.1, 0.1, 0.1, 0.1
    authors = P + I * I / s + D * s / (s + RC)
    assert tf == pytest.approx(authors, rel=1e-12)


# ---- references --------------------------------------------------------------------------

@pytest.mark.parametrize("make", [sines_reference, fourier_reference])
def test_references_are_periodic_and_band_limited(make):
    ref = make(400.0, seed=4)
    t = np.linspace(0, 400, 1001)
    np.testing.assert_allclose(ref(t + 400.0), ref(t), atol=1e-12)
    assert ref.cutoff_hz <= 0.1 + 1e-12
    if make is fourier_reference:
        tt = np.arange(0, 400, 0.01)
        assert np.sqrt(np.mean(ref(tt) ** 2)) == pytest.approx(0.25, rel=1e-3)


def test_user_callable_reference():
    task = CerebellarTask(1, seed=0, duration_s=50.0,
                          reference=lambda t: 0.3 * np.sin(2 * np.pi * t / 25.0))
    w = np.random.default_rng(1).normal(0, 0.3, task.n_weights)
    assert task.task_loss(w) == pytest.approx(task.simulate_task_loss(w), rel=1e-10)


# ---- bad input ---------------------------------------------------------------------------

def test_bad_inputs_name_the_parameter():
    with pytest.raises(ValueError, match="q .*>= 1"):
        CerebellarTask(0)
    with pytest.raises(TypeError, match="q .*integer"):
        CerebellarTask(1.5)
    with pytest.raises(ValueError, match="reference must be finite"):
        CerebellarTask(1, duration_s=10.0, reference=lambda t: np.where(t > 5, np.nan, 0.0))
    with pytest.raises(ValueError, match="plant must be stable"):
        LinearPlant(np.array([[0.5]]), [1.0], [1.0])
    with pytest.raises(ValueError, match="controller must not be unstable"):
        Controller(np.array([[0.2]]), [1.0], [1.0], 0.0)
    unstable_loop = pid_controller(kp=0.0, ki=50.0, kd=0.0, tau_d=1.0)
    with pytest.raises(ValueError, match="closed loop of plant and controller .* unstable"):
        CerebellarTask(1, duration_s=10.0, controller=unstable_loop)
    with pytest.raises(ValueError, match="duration_s .* multiple of dt"):
        CerebellarTask(1, duration_s=10.01, dt=0.05)
    with pytest.raises(ValueError, match="w must have last dimension"):
        CerebellarTask(1, duration_s=10.0).task_loss(np.zeros(3))
    with pytest.raises(ValueError, match="w contains NaN"):
        CerebellarTask(1, duration_s=10.0).task_loss(np.full(10, np.nan))
    with pytest.raises(ValueError, match="reference must be 'sines'"):
        CerebellarTask(1, duration_s=10.0, reference="square")


def test_any_stable_plant_and_controller():
    """A first-order plant under PD control: the quadratic form and the exact moments hold."""
    from numerics.cerebellum.moments import OnlineRule, propagate_moments
    from numerics.sim.cerebellum import simulate_online_learning

    plant = LinearPlant(np.array([[-0.5]]), [1.0], [2.0])
    pd = pid_controller(kp=0.5, ki=0.0, kd=0.3, tau_d=0.5)
    task = CerebellarTask(2, seed=5, duration_s=60.0, plant=plant, controller=pd,
                          reference="fourier")
    w = np.random.default_rng(2).normal(0, 0.3, task.n_weights)
    assert task.task_loss(w) == pytest.approx(task.simulate_task_loss(w), rel=1e-10)
    rule = OnlineRule(0.05, noise="none", decay=1e-3)
    exact = propagate_moments(task, rule, 90, w0=w).expected_loss
    sim = simulate_online_learning(task, rule, 90, replicas=1, start=lambda t, r: (w, None))
    np.testing.assert_allclose(sim.mean[0], exact, rtol=1e-10)


@pytest.mark.slow
def test_long_trajectory_of_ten_thousand_seconds():
    task = CerebellarTask(3, seed=1, duration_s=1e4)
    w = np.random.default_rng(0).normal(0, 0.2, task.n_weights)
    assert task.task_loss(w) == pytest.approx(task.simulate_task_loss(w), rel=1e-10)
    assert task.task_loss(task.optimal_weights()) == pytest.approx(task.L_min, rel=1e-10)
