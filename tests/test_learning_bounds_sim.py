"""Student networks and the three-component cycle simulator (Raman, Rotondo & O'Leary 2019)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numerics.sim.three_component as tc
from numerics.integrate import DivergenceError
from numerics.learning_bounds import expected_k, variance_k
from numerics.sim.students import (
    EmbeddedLinearStudent,
    LinearTeacherTask,
    ReducedLinearStudent,
    SigmoidStudent,
    exact_trace,
    hutchinson_trace,
)
from numerics.sim.three_component import Plasticity, sample_k, simulate_cycles
from validate.compare import compare


def _two_sample(a, b, name):
    """z-comparison of two independent sample means (difference against 0)."""
    return compare(name, 0.0, a.mean() - b.mean(),
                   np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size))


# ----------------------------------------------------------------------------- sigmoid networks

@settings(max_examples=15)
@given(st.lists(st.integers(1, 4), min_size=2, max_size=4), st.integers(0, 1000))
def test_sigmoid_backprop_and_hvp_against_finite_differences(widths, seed):
    rng = np.random.default_rng(seed)
    model, w0 = SigmoidStudent.teacher_task(widths, 7, seed=seed, teacher_scale=2.0,
                                            student_scale=2.0)
    w = np.stack([w0, w0 + 0.3 * rng.standard_normal(w0.size)])
    v = rng.standard_normal(w.shape)
    eps = 1e-6
    g = model.grad(w)
    fd_dir = (model.loss(w + eps * v) - model.loss(w - eps * v)) / (2 * eps)
    assert np.allclose((g * v).sum(1), fd_dir, rtol=1e-6, atol=1e-9)
    hv = model.hvp(w, v)
    fd_hv = (model.grad(w + eps * v) - model.grad(w - eps * v)) / (2 * eps)
    assert np.allclose(hv, fd_hv, rtol=1e-5, atol=1e-8)
    # the Hessian is symmetric: u.Hv = v.Hu
    u = rng.standard_normal(w.shape)
    assert np.allclose((u * hv).sum(1), (v * model.hvp(w, u)).sum(1), rtol=1e-9, atol=1e-12)


def test_enlarging_with_zero_weights_keeps_the_function():
    model, w0 = SigmoidStudent.teacher_task([5, 3, 3, 2], 40, seed=3, student_scale=1.0)
    big, wb = model.enlarge([5, 7, 6, 2], w0)
    assert big.dim > model.dim
    assert np.allclose(big.outputs(wb), model.outputs(w0))
    assert big.loss(wb)[0] == pytest.approx(model.loss(w0)[0], rel=1e-12)
    # weights into new hidden units have zero gradient; outgoing ones do not
    g_small = np.linalg.norm(model.grad(w0))
    assert np.linalg.norm(big.grad(wb)) >= g_small
    with pytest.raises(ValueError, match="not shrink"):
        model.enlarge([5, 2, 3, 2], w0)


def test_traces():
    model, w0 = SigmoidStudent.teacher_task([4, 3, 2], 30, seed=1, student_scale=1.0)
    H = np.stack([model.hvp(w0, e)[0] for e in np.eye(model.dim)])
    assert np.allclose(H, H.T, atol=1e-10)
    tr = np.trace(H)
    assert exact_trace(model, w0)[0] == pytest.approx(tr, rel=1e-10)
    # Hutchinson: unbiased, standard error as stated (Rademacher variance formula)
    K = 400
    gens = [np.random.default_rng(s) for s in range(60)]
    est, se = hutchinson_trace(model, np.tile(w0, (60, 1)), K, gens)
    var_theory = 2 * (np.sum(H * H) - np.sum(np.diag(H) ** 2)) / K
    assert abs(est.mean() - tr) < 4 * np.sqrt(var_theory / 60)
    assert np.mean(se**2) == pytest.approx(var_theory, rel=0.15)


# ----------------------------------------------------------------------------- linear embedding

@pytest.mark.parametrize("c1,c2", [(1, 1), (2, 1), (1, 3), (3, 2)])
def test_exact_embedding_numerically(c1, c2):
    """F, G, kappa unchanged and tr H x c2 under a random exact embedding (kappa is NOT x c2)."""
    task = LinearTeacherTask.random(4, 3, 50, seed=2)
    base, wb = EmbeddedLinearStudent.random(task, 1, 1, seed=0)
    big, wbig = EmbeddedLinearStudent.random(task, c1, c2, seed=11)
    red, wr = ReducedLinearStudent.embed(task, c1, c2)

    def state(model, w):
        g = model.grad(w)[0]
        G = np.linalg.norm(g)
        return (model.loss(w)[0], G, g @ model.hvp(w, g / G)[0] / G, model.trace_hess(w))

    F0, G0, k0, t0 = state(base, wb)
    for model, w in ((big, wbig), (red, wr)):
        F, G, k, t = state(model, w)
        assert (F, G, k) == pytest.approx((F0, G0, k0), rel=1e-10)
        assert t == pytest.approx(c2 * t0, rel=1e-10)
        assert model.dim == c1 * c2 * base.dim
    H = big.hessian()
    assert np.trace(H) == pytest.approx(c2 * t0)
    assert red.trace_hess_sq() == pytest.approx(np.sum(H * H), rel=1e-10)


def test_reduced_coordinates_sample_the_same_learning_rates_as_explicit_ones():
    """The reduced student (m < N, chi-square shortcut) and the explicit one (m = N) give the
    same distribution of k, with and without persistent task-irrelevant directions."""
    task = LinearTeacherTask.random(3, 2, 40, seed=5, weight_scale=3.0)
    big, wbig = EmbeddedLinearStudent.random(task, 3, 2, seed=1)
    red, wr = ReducedLinearStudent.embed(task, 3, 2)
    pl = Plasticity(0.3, 1.0, 0.2, 0.5)
    a = sample_k(big, wbig, pl, 4000, seed=1).k
    b = sample_k(red, wr, pl, 4000, seed=2).k
    c = sample_k(red, wr, pl, 4000, seed=3, literal=True).k
    for x, y, name in ((a, b, "explicit vs reduced"), (b, c, "shortcut vs literal")):
        assert _two_sample(x, y, name).passed
        assert _two_sample((x - x.mean()) ** 2, (y - y.mean()) ** 2, name + " (var)").passed
    # persistence: loss trajectories over cycles agree
    pp = Plasticity(0.3, 1.0, 0.05, 0.5, persistence=0.5)
    e1 = simulate_cycles(big, wbig, 30, pp, runs=600, seed=4, progress=False)
    e2 = simulate_cycles(red, wr, 30, pp, runs=600, seed=5, progress=False)
    z = (e1.loss.mean(1) - e2.loss.mean(1)) / np.sqrt(
        e1.loss.var(1, ddof=1) / 600 + e2.loss.var(1, ddof=1) / 600 + 1e-300)
    assert compare("persistent directions", np.zeros(30), z[1:], np.ones(30)).passed


def test_sample_k_mean_and_variance_agree_with_theory():
    task = LinearTeacherTask.random(6, 3, 200, seed=7, weight_scale=3.0)
    pl = Plasticity(0.2, 1.0, 0.05, 1.0)
    comps = []
    for c in (1, 2, 4):
        red, w = ReducedLinearStudent.embed(task, c, c)
        ds = sample_k(red, w, pl, 3000, seed=c)
        args = (red.dim, pl.gamma1, pl.gamma2, pl.gamma3, pl.T, ds.loss, ds.grad_norm,
                ds.curv_grad, ds.trace_hess)
        mean_th = expected_k(*args)
        var_th = variance_k(*args, ds.trace_hess_sq, ds.curv_grad_sq)
        dev2 = (ds.k - ds.k.mean()) ** 2
        comps.append((mean_th, ds.k.mean(), ds.k.std(ddof=1) / np.sqrt(ds.k.size)))
        comps.append((var_th, ds.k.var(ddof=1), dev2.std(ddof=1) / np.sqrt(ds.k.size)))
        # quadratic loss: the measured k equals its second-order formula draw by draw
        assert np.allclose(ds.k, ds.k_second_order, rtol=1e-9, atol=1e-12)
    th, mean, se = (np.array(x) for x in zip(*comps))
    assert compare("mean and variance of k", th, mean, se).passed
    assert not compare("doubled", 2 * th, mean, se).passed


# ----------------------------------------------------------------------------- simulator mechanics

def test_runs_are_reproducible_and_independent_of_the_number_of_runs(monkeypatch):
    task = LinearTeacherTask.random(3, 2, 30, seed=1, weight_scale=3.0)
    red, w = ReducedLinearStudent.embed(task, 2, 2)
    for pl in (Plasticity(0.2, 1.0, 0.1, 1.0), Plasticity(0.2, 1.0, 0.1, 1.0, persistence=0.1)):
        a = simulate_cycles(red, w, 20, pl, runs=5, seed=9, progress=False)
        b = simulate_cycles(red, w, 20, pl, runs=3, seed=9, progress=False)
        c = simulate_cycles(red, w, 20, pl, runs=5, seed=9, progress=False)
        assert np.array_equal(a.loss, c.loss)
        assert np.array_equal(a.loss[:, :3], b.loss)
        # drawing ahead in blocks of 1 or 3 cycles instead of 20 gives the same numbers
        for elements in (1, 3 * 5 * red.relevant_dim * 2):
            monkeypatch.setattr(tc, "BLOCK_ELEMENTS", elements)
            d = simulate_cycles(red, w, 20, pl, runs=5, seed=9, progress=False)
            assert np.array_equal(a.loss, d.loss)
        monkeypatch.undo()
    ds1 = sample_k(red, w, Plasticity(0.2, 1.0, 0.1, 1.0), 50, seed=3, chunk=7)
    ds2 = sample_k(red, w, Plasticity(0.2, 1.0, 0.1, 1.0), 50, seed=3)
    assert np.array_equal(ds1.k, ds2.k)


def test_recorded_quantities_and_k_definition():
    model, w0 = SigmoidStudent.teacher_task([3, 4, 2], 25, seed=2, student_scale=1.0)
    pl = Plasticity(0.05, 0.3, 0.01, 0.5)
    e = simulate_cycles(model, w0, 6, pl, runs=4, seed=1, record_cycles=[0, 3], trace="exact",
                        progress=False)
    assert np.allclose(e.k, -(e.loss[1:] - e.loss[:-1]) / (pl.T * e.loss[:-1]))
    g = model.grad(w0)[0]
    assert np.allclose(e.grad_norm[0], np.linalg.norm(g))
    assert np.allclose(e.trace_hess[0], exact_trace(model, w0)[0])
    # second-order k is close to the measured one for a small step
    assert np.allclose(e.k[e.record_cycles], e.k_second_order, rtol=0.05, atol=1e-3)
    h = simulate_cycles(model, w0, 2, pl, runs=3, seed=1, record_cycles=[0],
                        trace="hutchinson", probes=8, progress=False)
    assert np.all(h.trace_se[0] > 0)
    assert e.to_dict()["runs"] == 4


def test_bad_input_and_divergence():
    task = LinearTeacherTask.random(3, 2, 30, seed=1)
    red, w = ReducedLinearStudent.embed(task, 1, 1)
    for kw, msg in ((dict(gamma1=-1), "gamma1"), (dict(T=0), "T must be in \\(0, inf\\)"),
                    (dict(persistence=1.0), "persistence must be in \\[0, 1\\)")):
        args = dict(gamma1=0.1, gamma2=1.0, gamma3=0.1, T=1.0)
        args.update(kw)
        with pytest.raises(ValueError, match=msg):
            Plasticity(**args)
    pl = Plasticity(0.1, 1.0, 0.1, 1.0)
    with pytest.raises(ValueError, match="w0 must have shape"):
        simulate_cycles(red, np.zeros(5), 3, pl, runs=2, progress=False)
    with pytest.raises(ValueError, match="record_cycles"):
        simulate_cycles(red, w, 3, pl, runs=2, record_cycles=[3], progress=False)
    with pytest.raises(TypeError, match="seed"):
        simulate_cycles(red, w, 3, pl, runs=2, seed=-1, progress=False)
    with pytest.raises(DivergenceError, match="diverged in cycle"):
        simulate_cycles(red, w, 3, Plasticity(1e200, 1e200, 0.0, 1e100), runs=2,
                        progress=False)
