"""Cerebellar task (seed 000): the exact quadratic task loss against re-simulating the loop,
and the time to the optimal weights w* against the alternatives a user would pick.

Run: pytest -m bench tests/benchmarks/test_bench_cerebellum.py -s

* ``task_loss`` (O(N^2) from the QR factor) vs ``simulate_task_loss`` (step the sampled loop
  over the whole 400 s trajectory with w frozen) at q = 9: the ratio must be >= 100.
* w* at q = 9 and q = 30: building the task (reference, granule layer, the loop-filtered
  activity G by blocked convolution, QR, least squares) from scratch, against (q = 9) the
  same normal equations assembled from N + 1 re-simulations of the loop, one per unit weight
  vector (what one would write without the convolution).  The seed's authors pre-trained by
  gradient descent through the simulation for "a couple of hours".
"""

import time

import numpy as np
import pytest

from numerics.cerebellum import CerebellarTask

pytestmark = pytest.mark.bench


def _timed(fn, repeat=1):
    best = np.inf
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


def test_task_loss_vs_resimulation_q9(benchmark):
    task = CerebellarTask(9, seed=0, duration_s=400.0)
    _ = task.loss_form  # build once (timed separately below)
    rng = np.random.default_rng(0)
    W = rng.normal(0, 1 / np.sqrt(task.n_weights), (20, task.n_weights))
    exact = [task.task_loss(w) for w in W]
    _, t_fast = _timed(lambda: [task.task_loss(w) for w in W], repeat=20)
    resim, t_slow = _timed(lambda: [task.simulate_task_loss(w) for w in W], repeat=2)
    np.testing.assert_allclose(exact, resim, rtol=1e-10)
    per_fast, per_slow = t_fast / len(W), t_slow / len(W)
    benchmark.pedantic(lambda: task.task_loss(W[0]), rounds=200, iterations=5)
    ratio = per_slow / per_fast
    benchmark.extra_info.update(task_loss_s=per_fast, simulate_task_loss_s=per_slow,
                                ratio=ratio)
    print(f"\nq=9, 400 s: task_loss {per_fast * 1e6:.1f} us, simulate_task_loss "
          f"{per_slow * 1e3:.1f} ms, ratio {ratio:.0f}x")
    assert ratio >= 100


@pytest.mark.parametrize("q", [9, 30])
def test_time_to_optimal_weights(benchmark, q):
    def build():
        task = CerebellarTask(q, seed=1, duration_s=400.0)
        return task, task.optimal_weights()

    task, w_star = benchmark.pedantic(build, rounds=2, iterations=1)
    elapsed = benchmark.stats.stats.min
    benchmark.extra_info.update(seconds=elapsed, N=task.n_weights)
    print(f"\nq={q} (N={task.n_weights}): w* from scratch in {elapsed:.2f} s, "
          f"L_min = {task.L_min:.4g}, L(0) = {task.task_loss(np.zeros(task.n_weights)):.4g}")
    assert task.task_loss(w_star) == pytest.approx(task.L_min, rel=1e-12)
    assert elapsed < 30.0  # seconds, against the seed's "order of hours"


def test_optimal_weights_vs_resimulated_normal_equations_q9(benchmark):
    task = CerebellarTask(9, seed=1, duration_s=400.0)
    N = task.n_weights

    def resimulated():
        # e(w) = e0 + G w: one re-simulation with w = 0 and one per unit vector
        L = task.loop
        cols = []
        for j in range(N + 1):
            w = np.zeros(N)
            if j < N:
                w[j] = 1.0
            z = task.h @ w
            X = np.zeros(L.n_states)
            e = np.empty(task.n_samples)
            for n in range(task.n_samples):
                e[n] = L.H @ X - task.r[n]
                X = L.Phi @ X + L.Gamma_r * task.r[n] + L.Gamma_z * z[n]
            cols.append(e)
        e0 = cols[-1]
        G = np.stack(cols[:-1], axis=1) - e0[:, None]
        return np.linalg.lstsq(G, -e0, rcond=None)[0]

    def ours():
        t = CerebellarTask(9, seed=1, duration_s=400.0)
        return t.optimal_weights()

    w_ours, t_ours = _timed(ours, repeat=2)
    w_slow, t_slow = _timed(resimulated, repeat=1)
    benchmark.pedantic(ours, rounds=1, iterations=1)
    benchmark.extra_info.update(ours_s=t_ours, resimulated_s=t_slow, ratio=t_slow / t_ours)
    print(f"\nq=9 w*: learndyn {t_ours:.2f} s, normal equations from {N + 1} re-simulations "
          f"{t_slow:.1f} s, ratio {t_slow / t_ours:.0f}x")
    assert task.task_loss(w_slow) == pytest.approx(task.L_min, rel=1e-6)
    assert t_slow / t_ours > 5
