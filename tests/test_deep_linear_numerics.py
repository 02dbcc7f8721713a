"""numerics/deep_linear.py and numerics/sim/deep_network.py: closed forms, inversion,
learning times, full-matrix flow, SVD tracking, SGD networks (gradients, batching)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad, solve_ivp

from numerics.compile import compile_scalar
from numerics.deep_linear import (
    decoupled_init,
    euler_dynamics,
    exercise_problem,
    flow_rhs,
    integrate_dynamics,
    mode_learning_time,
    mode_rate,
    mode_strength,
    product,
    random_init,
    track_modes,
)
from numerics.sim.deep_network import BatchedDeepNetwork, DeepNetwork
from theory import deep_linear as th

S = th.SYMBOLS


@pytest.mark.parametrize("depth,eq", [(1, th.seed_eq5), (2, th.seed_eq4)])
def test_mode_strength_equals_seed_equations(depth, eq):
    f = compile_scalar(eq(), [S.t, S.s, S.tau, S.u0])
    t = np.linspace(0, 12, 50)[:, None]
    s = np.array([0.3, 1.0, 2.6457513110645907])[None]
    for a0 in (1e-3, 0.5):
        got = mode_strength(t, s, 2.5, a0, depth)
        want = f(t, s, 2.5, a0)
        np.testing.assert_allclose(got, want, rtol=0 if depth == 1 else 4e-15, atol=0)


def test_mode_strength_is_vectorised_and_saturates():
    u = mode_strength(np.array([0.0, 1e4]), np.array([[1.0], [2.0]]), 1.0, 1e-3, 2)
    assert u.shape == (2, 2)
    np.testing.assert_allclose(u[:, 0], 1e-3)
    np.testing.assert_allclose(u[:, 1], [1.0, 2.0])
    u = mode_strength(np.array([0.0, 1e6]), 2.0, 1.0, 1e-3, 4)
    np.testing.assert_allclose(u, [1e-3, 2.0], rtol=1e-14)


def _ode_solution(t, s, tau, a0, depth):
    sol = solve_ivp(lambda _, y: mode_rate(y, s, tau, depth), (0, t), [a0], method="DOP853",
                    rtol=1e-13, atol=1e-300)
    return sol.y[0, -1]


@settings(max_examples=40, deadline=None)
@given(depth=st.integers(1, 6), s=st.floats(0.2, 5.0), log_a0=st.floats(-5, 1.0),
       tau=st.floats(0.1, 10.0), frac=st.floats(0.05, 4.0))
def test_mode_strength_matches_ode_solve(depth, s, log_a0, tau, frac):
    """Both branches (growth from a0 < s, decay from a0 > s), into saturation."""
    a0 = 10**log_a0 * s
    if abs(a0 - s) < 1e-3 * s:
        a0 = 0.5 * s
    t = frac * mode_learning_time(s, tau, a0, 0.5 * (a0 + s), depth) + 1e-3
    got = mode_strength(t, s, tau, a0, depth)
    want = _ode_solution(t, s, tau, a0, depth)
    assert abs(got - want) <= 1e-8 * abs(want)


@pytest.mark.parametrize("depth", [3, 4, 5, 6])
def test_mode_strength_from_above_deep(depth):
    got = mode_strength(np.array([0.0, 0.3, 3.0]), 1.5, 2.0, 4.0, depth)
    want = [4.0] + [_ode_solution(t, 1.5, 2.0, 4.0, depth) for t in (0.3, 3.0)]
    np.testing.assert_allclose(got, want, rtol=1e-9)
    assert np.all(np.diff(got) < 0) and got[-1] > 1.5


def test_mode_strength_from_above_depth_one_and_two():
    for depth in (1, 2):
        got = mode_strength(3.0, 1.5, 2.0, 4.0, depth)
        assert abs(got - _ode_solution(3.0, 1.5, 2.0, 4.0, depth)) < 1e-9


def _quadrature_time(s, tau, u0, uf, depth):
    """dt/du = tau / (D u^p (s - u)) integrated numerically: in v = log u away from s and in
    q = -log|s - u| near s, where the integrand becomes smooth (tau/(D u^p) dq)."""
    p = 2 - 2 / depth
    sign = 1.0 if uf > u0 else -1.0
    mid = u0 + 0.5 * (uf - u0) if abs(s - u0) > 0 else u0
    mid = min(mid, 0.5 * (u0 + s)) if sign > 0 else max(mid, 0.5 * (u0 + s))
    far, _ = quad(lambda v: tau * np.exp(v) / (depth * np.exp(p * v) * (s - np.exp(v))),
                  np.log(u0), np.log(mid), epsabs=0, epsrel=1e-13, limit=500) if depth > 1 \
        else quad(lambda u: tau / (s - u), u0, mid, epsabs=0, epsrel=1e-13, limit=500)

    def near(q):
        u = s - sign * np.exp(-q)
        return tau / (depth * u**p)

    close, _ = quad(near, -np.log(abs(s - mid)), -np.log(abs(s - uf)), epsabs=0,
                    epsrel=1e-13, limit=500)
    return far + close


@settings(max_examples=60, deadline=None)
@given(depth=st.integers(1, 6), s=st.floats(0.1, 10.0), log_u0=st.floats(-8, 1.0),
       tau=st.floats(0.05, 20.0), log_gap=st.floats(-12, -0.01))
def test_mode_learning_time_matches_quadrature(depth, s, log_u0, tau, log_gap):
    """Both branches, with u_f as close to s as 1e-12 s (where SciPy's 2F1 fails)."""
    u0 = 10**log_u0 * s
    if abs(u0 - s) < 1e-2 * s:
        return  # a mode at (or next to) s has nothing to learn
    uf = s - (s - u0) * 10**log_gap
    if not (min(u0, s) < uf < max(u0, s)) or (depth > 1 and u0 <= 0):
        return
    want = _quadrature_time(s, tau, u0, uf, depth)
    got = mode_learning_time(s, tau, u0, uf, depth)
    # the closed form sees x = u/s, rounded to a few ulps: allow what that rounding alone moves
    # t by (|dt/dx| x eps, large only when u_f is within ~1e-8 of s), plus 1e-8 relative
    p = 2 - 2 / depth
    x0, xf = u0 / s, uf / s
    rounding = tau / (depth * s**p) * sum(abs(x) / (x**p * abs(1 - x)) if depth > 1 else
                                          abs(x / (1 - x)) for x in (x0, xf)) * 4e-16
    assert np.isfinite(got) and abs(got - want) <= 1e-8 * abs(want) + rounding


def test_mode_learning_time_close_to_s_is_finite_and_logarithmic():
    """Near s every depth approaches s like e^{-s^{2-2/D} D t / tau}: t grows by
    tau/(D s^{p}) ln 10 per decade of 1 - u_f/s (a former SciPy-2F1 path gave -inf here)."""
    for depth in (3, 4, 7):
        ts = [mode_learning_time(1.0, 1.0, 0.1, 1 - 10.0**-k, depth) for k in (10, 12, 14)]
        assert np.all(np.isfinite(ts))
        np.testing.assert_allclose(np.diff(ts), np.log(100) / depth, rtol=1e-3)


@pytest.mark.parametrize("depth", [1, 2, 3, 5])
def test_learning_time_inverts_mode_strength(depth):
    t = mode_learning_time(1.3, 2.0, 1e-3, 0.9, depth)
    assert abs(mode_strength(t, 1.3, 2.0, 1e-3, depth) - 0.9) < 1e-10


def test_learning_time_doubling_tau_doubles_time():
    t1 = mode_learning_time(2.0, 1.0, 1e-3, 1.0, 4)
    assert abs(mode_learning_time(2.0, 2.0, 1e-3, 1.0, 4) - 2 * t1) < 1e-12 * t1


@pytest.mark.parametrize("call,name", [
    (lambda: mode_strength(1.0, -1.0, 1.0, 0.1, 2), "s"),
    (lambda: mode_strength(1.0, 1.0, 0.0, 0.1, 2), "tau"),
    (lambda: mode_strength(1.0, 1.0, 1.0, 0.0, 2), "a0"),
    (lambda: mode_strength(-1.0, 1.0, 1.0, 0.1, 2), "t"),
    (lambda: mode_strength(np.nan, 1.0, 1.0, 0.1, 2), "t"),
    (lambda: mode_strength(1.0, 1.0, 1.0, 0.1, 0), "depth"),
    (lambda: mode_strength(1.0, 1.0, 1.0, -2.0, 3), "a0"),
    (lambda: mode_learning_time(1.0, 1.0, 0.1, 1.5, 2), "uf"),
    (lambda: mode_learning_time(1.0, 1.0, 0.5, 0.2, 2), "uf"),
    (lambda: mode_learning_time(1.0, 1.0, -0.5, 0.2, 3), "u0"),
    (lambda: mode_learning_time(1.0, -1.0, 0.1, 0.2, 3), "tau"),
    (lambda: mode_learning_time(0.0, 1.0, 0.1, 0.2, 3), "s"),
])
def test_bad_input(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_depth_type_error():
    with pytest.raises(TypeError, match="depth"):
        mode_strength(1.0, 1.0, 1.0, 0.1, 2.0)


def _loss(weights, Syx, Sx):
    W = product(weights)
    return -np.trace(W @ Syx.T) + 0.5 * np.trace(W @ Sx @ W.T)


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_flow_is_minus_loss_gradient_by_finite_differences(depth):
    rng = np.random.default_rng(depth)
    sizes = [3] + [4] * (depth - 1) + [5]
    ws = [rng.standard_normal((sizes[l + 1], sizes[l])) * 0.5 for l in range(depth)]
    Syx = rng.standard_normal((5, 3))
    A = rng.standard_normal((3, 3))
    Sx = A @ A.T + np.eye(3)
    tau = 1.7
    rhs = flow_rhs(ws, Syx, Sx, tau)
    h = 1e-6
    for l in range(depth):
        for (i, j) in [(0, 0), (ws[l].shape[0] - 1, ws[l].shape[1] - 1), (1, 2 % ws[l].shape[1])]:
            wp = [w.copy() for w in ws]
            wm = [w.copy() for w in ws]
            wp[l][i, j] += h
            wm[l][i, j] -= h
            fd = -(_loss(wp, Syx, Sx) - _loss(wm, Syx, Sx)) / (2 * h) / tau
            assert abs(rhs[l][i, j] - fd) < 1e-6 * max(1.0, abs(fd))


def test_exercise_problem_spectrum():
    Sx, Syx = exercise_problem()
    np.testing.assert_allclose(np.linalg.svd(Syx, compute_uv=False),
                               [np.sqrt(7), np.sqrt(3), 1, 1], rtol=1e-14)
    np.testing.assert_array_equal(Sx, np.eye(4))


def test_track_modes_handles_degenerate_values():
    Sx, Syx = exercise_problem()
    tr = track_modes(np.stack([Syx, 0.5 * Syx]), Syx)
    np.testing.assert_array_equal(tr.distinct, [True, True, False, False])
    assert np.all(np.isnan(tr.projections[:, 2:]))
    np.testing.assert_allclose(tr.projections[:, :2], tr.singular_values[:, :2], rtol=1e-12)
    np.testing.assert_allclose(tr.singular_values[1], 0.5 * tr.target, rtol=1e-12)
    # a rotation inside the degenerate subspace leaves the sorted values unchanged
    U, s, Vt = np.linalg.svd(Syx, full_matrices=False)
    c, sn = np.cos(0.7), np.sin(0.7)
    Rm = np.eye(4)
    Rm[2:, 2:] = [[c, -sn], [sn, c]]
    rotated = U @ Rm @ np.diag(s) @ Rm.T @ Vt
    np.testing.assert_allclose(track_modes(rotated, Syx).singular_values[0], s, rtol=1e-12)


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_decoupled_flow_follows_mode_strength(depth):
    Sx, Syx = exercise_problem()
    a0 = 1e-2
    w = decoupled_init(Syx, a0, [6] * (depth - 1), seed=3)
    np.testing.assert_allclose(track_modes(product(w), Syx).singular_values[0], a0, rtol=1e-12)
    t = np.linspace(0, 20, 21)
    traj = integrate_dynamics(w, Syx, Sx, 2.5, t)
    sv = track_modes(traj.products, Syx).singular_values
    theory = mode_strength(t[:, None], np.linalg.svd(Syx, compute_uv=False)[None], 2.5, a0,
                           depth)
    np.testing.assert_allclose(sv, theory, rtol=1e-7)


def test_euler_converges_to_solve_ivp():
    Sx, Syx = exercise_problem()
    w = random_init([4, 16, 7], 0.01, seed=1)
    ref = integrate_dynamics(w, Syx, Sx, 2.5, np.array([0.0, 5.0])).products[-1]
    e1 = np.max(np.abs(euler_dynamics(w, Syx, Sx, 2.5, 0.1, 5.0).products[-1] - ref))
    e2 = np.max(np.abs(euler_dynamics(w, Syx, Sx, 2.5, 0.05, 5.0).products[-1] - ref))
    assert 1.6 < e1 / e2 < 2.4  # first order


def test_matrix_dynamics_bad_input():
    Sx, Syx = exercise_problem()
    with pytest.raises(ValueError, match="weights"):
        euler_dynamics([np.zeros((3, 4)), np.zeros((7, 2))], Syx, Sx, 2.5, 0.1, 1.0)
    with pytest.raises(ValueError, match="dt"):
        euler_dynamics(random_init([4, 5, 7], 0.01), Syx, Sx, 2.5, -0.1, 1.0)
    with pytest.raises(ValueError, match="hidden_units"):
        decoupled_init(Syx, 1e-3, [3])


_W = random_init([4, 5, 7], 0.01)
_SX, _SYX = exercise_problem()


@pytest.mark.parametrize("call,name", [
    (lambda: euler_dynamics(_W, _SYX, -_SX, 2.5, 0.1, 1.0), "Sx"),  # not PSD
    (lambda: integrate_dynamics(_W, _SYX, _SX + np.triu(np.ones((4, 4)), 1), 2.5, [0, 1]),
     "Sx"),  # not symmetric
    (lambda: euler_dynamics(_W, np.full((7, 4), np.nan), _SX, 2.5, 0.1, 1.0), "Syx"),
    (lambda: euler_dynamics([_W[0] * np.nan, _W[1]], _SYX, _SX, 2.5, 0.1, 1.0), "weights"),
    (lambda: flow_rhs(_W, _SYX, _SX, 0.0), "tau"),
    (lambda: flow_rhs(_W, _SYX[:, :3], _SX, 1.0), "Sx"),
    (lambda: mode_rate(0.5, 1.0, -1.0, 2), "tau"),
    (lambda: random_init([4, 0, 7], 0.01), "sizes"),
    (lambda: random_init([4], 0.01), "sizes"),
    (lambda: track_modes(np.full((2, 7, 4), np.nan), _SYX), "products"),
])
def test_matrix_dynamics_bad_input_named(call, name):
    with pytest.raises(ValueError, match=name):
        call()


# ------------------------------------------------------------------- SGD networks

@pytest.mark.parametrize("activation", ["linear", "relu", "relu_all"])
def test_backprop_matches_finite_differences(activation):
    net = DeepNetwork(5, [6, 7], 4, activation=activation, seed=11)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(5), rng.standard_normal(4)
    grads = net.gradients(x, y)
    h = 1e-6
    for l, W in enumerate(net.weights):
        for i in range(W.shape[0]):
            for j in range(W.shape[1]):
                old = W[i, j]
                W[i, j] = old + h
                lp = net.loss(x[None], y[None])
                W[i, j] = old - h
                lm = net.loss(x[None], y[None])
                W[i, j] = old
                assert abs(grads[l][i, j] - (lp - lm) / (2 * h)) < 1e-6


@pytest.mark.parametrize("activation", ["linear", "relu", "relu_all"])
def test_sgd_step_is_gradient_step(activation):
    net = DeepNetwork(5, [6, 7], 4, activation=activation, seed=2)
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal(5), rng.standard_normal(4)
    expected = [W - 0.3 * g for W, g in zip(net.weights, net.gradients(x, y))]
    net.sgd_step(x, y, 0.3)
    for W, E in zip(net.weights, expected):
        np.testing.assert_allclose(W, E, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("activation", ["linear", "relu", "relu_all"])
def test_batched_equals_single_networks(activation):
    X = np.eye(4)
    Y = np.random.default_rng(0).choice([-1.0, 1.0], (4, 6))
    ss = np.random.SeedSequence(5)
    batch = BatchedDeepNetwork(4, [8, 8], 6, replicas=3, activation=activation, seed=ss)
    rb = batch.train(X, Y, epochs=15, lr=0.3)
    for r, child in enumerate(np.random.SeedSequence(5).spawn(3)):
        single = DeepNetwork(4, [8, 8], 6, activation=activation, seed=child)
        rs = single.train(X, Y, epochs=15, lr=0.3)
        np.testing.assert_allclose(rb.outputs[:, r], rs.outputs, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(rb.loss[:, r], rs.loss, rtol=1e-10, atol=1e-14)


def test_training_reduces_loss_and_is_reproducible():
    X = np.eye(8)
    Y = np.random.default_rng(1).choice([-1.0, 1.0], (8, 10))
    r1 = DeepNetwork(8, [16, 16], 10, seed=4).train(X, Y, epochs=200, lr=0.5)
    r2 = DeepNetwork(8, [16, 16], 10, seed=4).train(X, Y, epochs=200, lr=0.5)
    np.testing.assert_array_equal(r1.outputs, r2.outputs)
    assert r1.loss[-1] < 1e-3 * r1.loss[0]


def test_network_bad_input():
    with pytest.raises(ValueError, match="hidden_units"):
        DeepNetwork(4, [0, 3], 2)
    with pytest.raises(ValueError, match="activation"):
        DeepNetwork(4, [3], 2, activation="tanh")
    net = DeepNetwork(4, [3], 2)
    with pytest.raises(ValueError, match="lr"):
        net.train(np.eye(4), np.zeros((4, 2)), epochs=1, lr=-1.0)
    with pytest.raises(ValueError, match="Y"):
        net.train(np.eye(4), np.zeros((4, 3)), epochs=1, lr=0.1)
    with pytest.raises(ValueError, match="replicas"):
        BatchedDeepNetwork(4, [3], 2, replicas=0)
    with pytest.raises(TypeError, match="seed"):
        DeepNetwork(4, [3], 2, seed=-1)
    with pytest.raises(ValueError, match="record_every"):
        net.train(np.eye(4), np.zeros((4, 2)), epochs=1, lr=0.1, record_every=0)
    with pytest.raises(ValueError, match="record_inputs"):
        net.train(np.eye(4), np.zeros((4, 2)), epochs=1, lr=0.1, record_inputs=np.eye(3))
    with pytest.raises(ValueError, match="weights"):
        DeepNetwork(4, [3], 2, weights=[np.full((3, 4), np.nan), np.zeros((2, 3))])
    batched = BatchedDeepNetwork(4, [3], 2, replicas=2)
    with pytest.raises(ValueError, match="xs"):
        batched.sgd_steps(np.zeros((3, 5, 4)), np.zeros((3, 5, 2)), 0.1)
    with pytest.raises(ValueError, match="ys"):
        batched.sgd_steps(np.zeros((2, 5, 4)), np.zeros((2, 5, 3)), 0.1)
    with pytest.raises(ValueError, match="record_every"):
        batched.train(np.eye(4), np.zeros((4, 2)), epochs=1, lr=0.1, record_every=-2)


def test_default_initialisation_is_variance_preserving_in_the_fan_in():
    """``init_std=None``: W_l ~ N(0, 1/fan-in) (std 0.05 for 400 inputs), not 1/fan-out
    (0.14 for 50 outputs); 20000 entries give the std to 0.5%."""
    from numerics.sim.deep_network import init_weights

    W = init_weights([400, 50], np.random.default_rng(3))[0]
    assert W.shape == (50, 400)
    assert W.std() == pytest.approx(1 / np.sqrt(400), rel=0.03)
