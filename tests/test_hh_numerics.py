"""numerics.hh: the HH population simulator (both backends), stability, Hopf, bad input."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

from numerics import hh
from numerics.hh_codegen import cell_code, numpy_cell, share_exponentials
from numerics.hh_stability import (
    equilibrium,
    hopf_points,
    linear_noise_covariance,
    rest_state,
    rk4_dt_limit,
    rk4_stability_function,
)
from numerics.hopf import first_lyapunov_coefficient
from numerics.integrate import DivergenceError
from theory import hh as th
from validate.compare import compare

SUBS = th.DEFAULT_CONSTANTS.subs()


# ----------------------------------------------------------------------------- codegen

@pytest.fixture(scope="module")
def mp_rhs():
    return sp.lambdify([*th.CELL_STATE, th.I], list(th.cell_rhs().subs(SUBS)), "mpmath")


@settings(max_examples=40)
@given(v=st.floats(-110, 70), m=st.floats(0, 1), h=st.floats(0, 1), n=st.floats(0, 1),
       s=st.floats(0, 1), i_app=st.floats(-20, 200))
def test_shared_exponential_rewrite_is_exact(mp_rhs, v, m, h, n, s, i_app):
    """The compiled right-hand side (two exponentials) equals theory's (eight)."""
    f = mp_rhs
    want = [float(x) for x in f(v, m, h, n, s, i_app)]
    got = numpy_cell().rhs(*(np.float64(x) for x in (v, m, h, n, s, i_app)))
    assert np.allclose(got, want, rtol=1e-12, atol=1e-12)


def test_share_exponentials_groups_by_integer_multiples():
    x = sp.Symbol("x")
    exprs = [sp.exp(-x / 80), sp.exp(-x / 20 + 1), sp.exp(-x / 18), sp.exp(-x / 5)]
    new, bases = share_exponentials(exprs, x)
    assert [str(b[1]) for b in bases] == ["exp(-x/80)", "exp(-x/18)"]
    q1, q2 = (b[0] for b in bases)
    assert float(new[1] / q1**4) == pytest.approx(np.e)
    assert new[3] == q1**16
    with pytest.raises(ValueError, match="not linear"):
        share_exponentials([sp.exp(x**2)], x)


def test_only_two_transcendentals_remain():
    code = cell_code()
    assert [str(e) for _, e in code.bases] == ["exp(-V/80)", "exp(-V/18)"]
    for e in code.rhs:
        assert not e.atoms(sp.exp)


# ----------------------------------------------------------------------------- stability

def test_rest_state_and_its_eigenvalues():
    y = rest_state()
    assert y[0] == pytest.approx(-65.0, abs=0.01)
    eq = equilibrium(0.0)
    assert eq.stable
    # the known damped oscillation at rest: a complex pair with period ~16 ms
    pair = eq.eigenvalues[np.abs(eq.eigenvalues.imag) > 0]
    assert pair.size == 2 and 2 * np.pi / abs(pair[0].imag) == pytest.approx(16.4, abs=0.2)


def test_hopf_points_match_published_values_and_criticality():
    """Hassard 1978 / Rinzel & Miller 1980: I1 = 9.78 (subcritical), I2 = 154.5 uA/cm^2."""
    pts = hopf_points()
    assert len(pts) == 2
    assert round(pts[0].current, 2) == 9.78
    assert pts[0].subcritical
    assert round(pts[1].current, 1) == 154.5
    for p in pts:  # the equilibrium really changes stability there
        assert equilibrium(p.current - 0.01).stable != equilibrium(p.current + 0.01).stable


@pytest.fixture(scope="module")
def normal_form():
    """Derivative tensors at 0 of the Hopf normal form zdot = i w z + (a + ib)|z|^2 z,
    z = x + iy, written in coordinates rotated by theta (symbolic in a, b, w, theta)."""
    x, y, a, b, w, th_ = sp.symbols("x y a b w theta", real=True)
    u, v = sp.symbols("u v", real=True)
    Q = sp.Matrix([[sp.cos(th_), -sp.sin(th_)], [sp.sin(th_), sp.cos(th_)]])
    r2 = x**2 + y**2
    f = sp.Matrix([-w * y + r2 * (a * x - b * y), w * x + r2 * (b * x + a * y)])
    X = Q * sp.Matrix([u, v])
    g = Q.T * f.subs({x: X[0], y: X[1]}, simultaneous=True)
    z = {u: 0, v: 0}
    s = (u, v)
    A = g.jacobian(s).subs(z)
    B = [[[sp.diff(g[i], s[j], s[k]).subs(z) for k in range(2)] for j in range(2)]
         for i in range(2)]
    C = [[[[sp.diff(g[i], s[j], s[k], s[m]).subs(z) for m in range(2)] for k in range(2)]
          for j in range(2)] for i in range(2)]
    return sp.lambdify([a, b, w, th_], [A, B, C], "numpy")


@settings(max_examples=15)
@given(a=st.floats(-2, 2).filter(lambda a: abs(a) > 1e-3), b=st.floats(-2, 2),
       omega=st.floats(0.2, 5), theta=st.floats(0, 3.1))
def test_first_lyapunov_coefficient_on_the_normal_form(normal_form, a, b, omega, theta):
    """zdot = i omega z + (a + i b)|z|^2 z, any rotation: l1 = 2a/omega with |q| = 1."""
    A, B, C = (np.array(m, dtype=float) for m in normal_form(a, b, omega, theta))
    l1, om = first_lyapunov_coefficient(A, B, C)
    assert om == pytest.approx(omega)
    assert l1 == pytest.approx(2 * a / omega, rel=1e-9, abs=1e-12)


def test_rk4_step_limit():
    dt_max, info = rk4_dt_limit()
    assert 0.06 < dt_max < 0.07
    lam = complex(info["eigenvalue_re"], info["eigenvalue_im"])
    assert abs(rk4_stability_function(lam * dt_max)) == pytest.approx(1.0, abs=1e-9)
    # the stiffest mode is at the spike's peak
    assert info["state"][0] > 20


# ----------------------------------------------------------------------------- f-I

def _cycle_rate(current):
    """Reference: firing rate of the limit cycle from a tight DOP853 integration."""
    cell = numpy_cell()

    def rhs(t, y):
        return cell.rhs(*y, 0.0, current)[:4]

    def up(t, y):
        return y[0]
    up.direction = 1
    sol = solve_ivp(rhs, (0, 300), rest_state()[:4], method="DOP853", rtol=1e-10, atol=1e-10,
                    events=up)
    t = sol.t_events[0]
    t = t[t > 150]
    return (t.size - 1) / (t[-1] - t[0]) * 1000.0


@pytest.mark.parametrize("current", [10.0, pytest.param(7.0, marks=pytest.mark.slow),
                                     pytest.param(20.0, marks=pytest.mark.slow)])
def test_firing_rate_matches_the_limit_cycle(current):
    assert hh.firing_rate(current, duration_ms=300.0) == pytest.approx(_cycle_rate(current),
                                                                       rel=1e-4)


def test_firing_rate_threshold_and_onset():
    """Below Rinzel & Miller's I_nu = 6.26 no sustained firing; above it ~50 Hz (class II)."""
    assert hh.firing_rate(6.0) == 0.0
    assert hh.firing_rate(0.0) == 0.0
    assert 45 < hh.firing_rate(6.4) < 60
    assert hh.firing_rate(200.0) == 0.0  # depolarisation block above I2 = 154.5


# ----------------------------------------------------------------------------- backends

def _both(**kw):
    a = hh.simulate(backend="numpy", progress=False, **kw)
    b = hh.simulate(backend="numba", progress=False, **kw)
    return a, b


def _assert_equal(a, b, tol=1e-9):
    assert np.array_equal(a.spike_counts, b.spike_counts)
    for k in ("param", "trial", "neuron"):
        assert np.array_equal(a.spikes[k], b.spikes[k])
    assert np.allclose(a.spikes["time"], b.spikes["time"], rtol=0, atol=tol)
    assert np.allclose(a.final_state, b.final_state, rtol=tol, atol=tol)
    assert np.allclose(a.loss, b.loss, rtol=tol, atol=tol, equal_nan=True)


@pytest.mark.parametrize("method", ["rk4", "expeuler"])
def test_numba_equals_numpy_independent_with_noise_and_inputs(method):
    x = hh.input_trace([200.0, 50.0], 25.0, 0.01, seed=3)
    dt = 0.01 if method == "rk4" else 0.005
    a, b = _both(current=[[8.0, 12.0, 3.0], [15.0, 0.0, 9.0]], noise=[0.5, 1.0, 2.0],
                 trials=3, seed=7, duration_ms=25.0, dt_ms=dt, method=method,
                 inputs=np.repeat(x, 2, axis=0) if dt == 0.005 else x,
                 input_weights=[[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]], loss_window=(5.0, 20.0),
                 record=True, record_every=10)
    _assert_equal(a, b)
    assert np.allclose(a.V, b.V, atol=1e-9) and np.allclose(a.a, b.a, atol=1e-9)
    assert a.spike_counts.sum() > 5


def test_loops_compile_to_simd_without_scalar_exp(tmp_path):
    """The loops' speed comes from SIMD over cells or networks (numerics.hh_loops); a scalar
    ``exp`` call, or anything else that stops LLVM vectorising the step, would lose it
    silently.  Compiled afresh (empty kernel cache) in a subprocess, since code loaded from
    numba's cache carries no LLVM IR to inspect."""
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "from numerics import hh\n"
        "from numerics.hh_kernel import kernels\n"
        "hh.simulate([[8.0, 9.0]], noise=0.5, duration_ms=0.2, progress=False)\n"
        "from numerics.hh_kernel import RK4, kernel_source, load_kernel_module\n"
        "hh.simulate([[8.0, 9.0]], weights=[[0.0, 1.0], [0.0, 0.0]], duration_ms=0.2,\n"
        "            progress=False)\n"
        "from theory.hh import DEFAULT_CONSTANTS as c\n"
        "for f in (kernels().independent(0, True, False, False, True),\n"
        "          load_kernel_module(kernel_source(c, RK4, False, False, False, True))\n"
        "          .block_coupled):\n"
        "    ir = f.inspect_llvm(f.signatures[0])\n"
        "    print('VECTOR' if 'x double>' in ir else 'SCALAR')\n"
        "    print('EXPCALL' if ('@exp(' in ir or 'llvm.exp.' in ir) else 'NOEXP')\n")
    env = {**__import__("os").environ, "LEARNDYN_CACHE_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=Path(__file__).resolve().parents[1], timeout=600)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["VECTOR", "NOEXP"] * 2, out.stdout


@pytest.mark.parametrize("method", ["rk4", "expeuler"])
def test_numba_equals_numpy_coupled(method):
    W = np.stack([hh.complete_graph(3, 4.0), hh.chain(3, [30.0, 30.0])])
    a, b = _both(current=[10.0, 2.0, 0.0], weights=W, noise=0.3, trials=2, seed=1,
                 duration_ms=15.0, dt_ms=0.01, method=method, common_noise=False)
    _assert_equal(a, b)
    assert a.spike_counts[1, :, 2].min() > 0  # the chain carries activity to its end


def test_neuron_without_output_matches_backends_and_spikes():
    a, b = _both(current=[[7.0, 15.0]], duration_ms=12.0, output=False, noise=0.5, seed=2)
    _assert_equal(a, b)
    full = hh.simulate([[7.0, 15.0]], duration_ms=12.0, noise=0.5, seed=2, progress=False)
    assert np.array_equal(full.spike_counts, b.spike_counts)  # s does not feed back
    assert np.isnan(b.loss).all() and np.all(b.final_state[4] == rest_state()[4])
    with pytest.raises(ValueError, match="output=False needs weights=None"):
        hh.simulate([1.0], weights=[[0.0]], output=False, duration_ms=1.0, progress=False)


def test_loss_is_the_window_average_of_the_recorded_output():
    r = hh.simulate([[9.0], [14.0]], duration_ms=50.0, loss_window=(5.0, 45.0), record=True,
                    progress=False)
    k0, k1 = 500, 4500
    a = r.a[:, :, 0, 0]
    trap = 0.01 * (a[k0:k1].sum(axis=0) + 0.5 * (a[k1] - a[k0]))
    assert np.allclose(r.loss[:, 0], trap / 40.0, rtol=1e-12)


def test_spike_detection_with_rearming_on_the_recorded_trace():
    r = hh.simulate([[30.0]], duration_ms=60.0, noise=1.0, seed=4, record=True,
                    progress=False)
    V = r.V[:, 0, 0, 0]
    count, armed = 0, True
    for v0, v1 in zip(V[:-1], V[1:]):
        if armed and v0 < 0 <= v1:
            count += 1
            armed = False
        elif not armed and v1 < -20:
            armed = True
    assert count == r.spike_counts[0, 0, 0] > 3
    times = r.spike_times()
    assert np.all(np.diff(times) > 1.0)


def test_common_noise_streams_do_not_depend_on_the_batch():
    one = hh.simulate([[9.0]], noise=1.0, trials=2, seed=11, duration_ms=30.0, progress=False)
    many = hh.simulate([[9.0], [3.0], [20.0]], noise=1.0, trials=2, seed=11, duration_ms=30.0,
                       progress=False)
    assert np.array_equal(one.final_state[:, 0], many.final_state[:, 0])
    again = hh.simulate([[9.0]], noise=1.0, trials=2, seed=11, duration_ms=30.0,
                        progress=False)
    assert np.array_equal(one.final_state, again.final_state)
    other = hh.simulate([[9.0]], noise=1.0, trials=2, seed=12, duration_ms=30.0,
                        progress=False)
    assert not np.array_equal(one.final_state, other.final_state)


def test_stationary_voltage_variance_matches_the_linear_noise_theory():
    """Var(V) at rest under weak current noise vs the Lyapunov equation of the derived
    Jacobian; fails for a doubled theory.  sigma = 0.3 at I = 0: the O(sigma^2) nonlinear
    correction is ~1% (measured by halving sigma), below the 3% standard error."""
    sigma, current = 0.3, 0.0
    r = hh.simulate(np.full((1, 1500), current), noise=sigma, duration_ms=120.0, seed=5,
                    progress=False)
    V = r.final_state[0, 0, 0]
    var = V.var(ddof=1)
    se = np.sqrt((np.mean((V - V.mean()) ** 4) - var**2) / V.size)
    theory = linear_noise_covariance(current, sigma)[0, 0]
    assert compare("Var V", theory, var, se).passed
    assert not compare("Var V doubled", 2 * theory, var, se).passed


def test_input_trace_mean():
    x = hh.input_trace([100.0, 400.0], 2000.0, 0.1, seed=0, tau_ms=5.0)
    assert x.shape == (20000, 2)
    # E[x] = rate * tau (rate per ms); 2 s of 5 ms-correlated samples: ~15% relative spread
    assert x[2000:].mean(axis=0) == pytest.approx([0.5, 2.0], rel=0.15)


def test_network_builders():
    assert np.array_equal(hh.chain(3, 2.0), [[0, 0, 0], [2, 0, 0], [0, 2, 0]])
    W = hh.feedforward([2, 1, 2], [np.ones((1, 2)), np.full((2, 1), 3.0)])
    assert W.shape == (5, 5) and W[2, 0] == 1 and W[3, 2] == 3 and W[0, 2] == 0
    G = hh.complete_graph(2, 1.5)
    assert np.all(G == 1.5)  # self-connections included
    with pytest.raises(ValueError, match=r"weights\[1\] must have shape"):
        hh.feedforward([2, 1, 2], [np.ones((1, 2)), np.ones((1, 2))])


# ----------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("kw, match", [
    ({"dt_ms": -0.01}, r"dt_ms must be in \(0, inf\)"),
    ({"dt_ms": 0.1}, r"too large for RK4 stability.*dt_ms <= 0\.06"),
    ({"dt_ms": 2.0, "method": "expeuler"}, "cannot resolve"),
    ({"current": [np.nan]}, "current contains NaN"),
    ({"current": [1.0, 2.0], "weights": np.ones((3, 3))}, r"current must have shape"),
    ({"current": [1.0, 2.0], "weights": np.ones((2, 3))}, "weights must be a square"),
    ({"current": [1.0], "noise": -1.0}, "noise must be finite and >= 0"),
    ({"duration_ms": 1.005, "dt_ms": 0.01}, "multiple of dt_ms"),
    ({"method": "euler"}, "method must be one of"),
    ({"backend": "cuda"}, "backend must be one of"),
    ({"current": [[1.0], [2.0]], "noise": [[1.0], [1.0], [1.0]]}, "disagree on the number"),
    ({"output_neurons": [3]}, "output_neurons must be indices"),
    ({"loss_window": (5.0, 1.0)}, "loss_window must satisfy"),
    ({"trials": 0}, "trials must be >= 1"),
])
def test_bad_input_is_named(kw, match):
    kw = {"current": [5.0], "duration_ms": 1.0, **kw}
    with pytest.raises(ValueError, match=match):
        hh.simulate(progress=False, **kw)


def test_bad_types_and_firing_rate_input():
    with pytest.raises(TypeError, match="seed"):
        hh.simulate([5.0], noise=1.0, seed=-1, duration_ms=1.0, progress=False)
    with pytest.raises(ValueError, match="current must be finite"):
        hh.firing_rate(float("nan"))
    with pytest.raises(TypeError, match="current must be a real number"):
        hh.firing_rate([1.0, 2.0])


def test_divergence_says_where_and_why():
    with pytest.raises(DivergenceError, match=r"diverged at t = .* ms in neuron 1") as err:
        hh.simulate([0.0, 5e7], duration_ms=1.0, dt_ms=0.01, progress=False)
    assert err.value.component == 1
