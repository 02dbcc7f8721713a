"""Three-component simulation: cost per cycle vs N, and against what a user would write.

Run: pytest -m bench tests/benchmarks/test_bench_learning_bounds.py -s

* Scaling: a quadratic student whose N weights all enter the loss (linear student, c1 = 1),
  N = 1024 ... 10^4, 100 runs x 1000 cycles each; the largest must take under 60 s and the
  fitted exponent of time per cycle vs N must be at most 1 (+0.15 for timing noise).
* Against a per-run loop that draws both unit vectors every cycle, as the rule is written
  (the straightforward NumPy code), and against learndyn's own literal two-vector path:
  same rule, same statistics (final loss, Sidak 99%), reported as time ratios.
* Exactly embedded student (N = 5000 weights, 500 of which enter the loss) simulated in
  reduced coordinates vs in explicit coordinates with random B, D.
"""

import time

import numpy as np
import pytest

from numerics.sim.students import EmbeddedLinearStudent, LinearTeacherTask, ReducedLinearStudent
from numerics.sim.three_component import Plasticity, simulate_cycles
from validate.compare import compare

pytestmark = pytest.mark.bench
PL = Plasticity(0.1, 1.0, 0.02, 1.0)
RUNS, CYCLES = 100, 1000


def _student(n_side: int):
    task = LinearTeacherTask.random(n_side, n_side, 4 * n_side, seed=1, weight_scale=3.0)
    return ReducedLinearStudent.embed(task, 1, 1)


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def naive_loop(model, w0, cycles, pl, runs, seed):
    """What a user would write: one run at a time, both unit vectors drawn every cycle."""
    N = model.dim
    s = np.sqrt(N / pl.T)
    final = np.empty(runs)
    for r, ss in enumerate(np.random.SeedSequence(seed).spawn(runs)):
        rng = np.random.default_rng(ss)
        w = w0.copy()
        for _ in range(cycles):
            g = model.grad(w)[0]
            n2 = rng.standard_normal(N)
            n2 /= np.linalg.norm(n2)
            n3 = rng.standard_normal(N)
            n3 /= np.linalg.norm(n3)
            w = w + pl.T * (-pl.gamma1 * g / np.linalg.norm(g) + pl.gamma2 * n2
                            + pl.gamma3 * s * n3)
        final[r] = model.loss(w)[0]
    return final


def test_cost_per_cycle_grows_at_most_linearly_in_N(benchmark):
    sides = (32, 50, 71, 100)
    times, Ns = [], []
    for n in sides:
        model, w0 = _student(n)
        _, t = _timed(lambda m=model, w=w0: simulate_cycles(m, w, CYCLES, PL, runs=RUNS, seed=1,
                                                           progress=False))
        times.append(t)
        Ns.append(model.dim)
    slope = np.polyfit(np.log(Ns), np.log(times), 1)[0]
    benchmark.extra_info.update({"N": Ns, "seconds": times, "exponent": slope})
    print(f"\n{RUNS} runs x {CYCLES} cycles: " + ", ".join(
        f"N={n}: {t:.1f} s" for n, t in zip(Ns, times)) + f"; exponent {slope:.2f}")
    model, w0 = _student(sides[0])
    benchmark.pedantic(lambda: simulate_cycles(model, w0, 100, PL, runs=RUNS, seed=2,
                                               progress=False), rounds=1, iterations=1)
    assert times[-1] < 60.0
    assert slope <= 1.15


def test_against_a_per_run_loop_and_the_literal_rule(benchmark):
    model, w0 = _student(100)  # N = 10^4
    cycles = 100
    ours, t_ours = _timed(lambda: simulate_cycles(model, w0, cycles, PL, runs=RUNS, seed=3,
                                                  progress=False))
    lit, t_lit = _timed(lambda: simulate_cycles(model, w0, cycles, PL, runs=RUNS, seed=4,
                                                literal=True, progress=False))
    naive, t_naive = _timed(lambda: naive_loop(model, w0, cycles, PL, RUNS, seed=5))
    a, b = ours.loss[-1], lit.loss[-1]
    c = compare("final loss: shortcut vs literal vs per-run loop", np.zeros(2),
                [a.mean() - b.mean(), a.mean() - naive.mean()],
                [np.sqrt(a.var(ddof=1) / RUNS + b.var(ddof=1) / RUNS),
                 np.sqrt(a.var(ddof=1) / RUNS + naive.var(ddof=1) / RUNS)])
    benchmark.extra_info.update({"ours_s": t_ours, "literal_s": t_lit, "per_run_loop_s": t_naive,
                                 "ratio_loop": t_naive / t_ours, "ratio_literal": t_lit / t_ours,
                                 "max_abs_z": c.max_abs_z})
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    print(f"\nN=10^4, {RUNS} runs x {cycles} cycles: learndyn {t_ours:.2f} s, literal two-vector "
          f"path {t_lit:.2f} s ({t_lit / t_ours:.2f}x), per-run loop {t_naive:.2f} s "
          f"({t_naive / t_ours:.2f}x); statistics max|z| = {c.max_abs_z:.2f}")
    assert c.passed, c.summary()
    assert t_naive > t_ours


def test_reduced_coordinates_against_explicit_embedding(benchmark):
    task = LinearTeacherTask.random(10, 5, 500, seed=2, weight_scale=3.0)
    red, wr = ReducedLinearStudent.embed(task, 10, 10)  # N = 5000, 500 weights in the loss
    big, wb = EmbeddedLinearStudent.random(task, 10, 10, seed=3)
    cycles = 300
    a, t_red = _timed(lambda: simulate_cycles(red, wr, cycles, PL, runs=RUNS, seed=6,
                                              progress=False))
    b, t_big = _timed(lambda: simulate_cycles(big, wb, cycles, PL, runs=RUNS, seed=7,
                                              progress=False))
    x, y = a.loss[-1], b.loss[-1]
    c = compare("final loss: reduced vs explicit", 0.0, x.mean() - y.mean(),
                np.sqrt(x.var(ddof=1) / RUNS + y.var(ddof=1) / RUNS))
    benchmark.extra_info.update({"reduced_s": t_red, "explicit_s": t_big,
                                 "ratio": t_big / t_red, "z": c.max_abs_z})
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    print(f"\nembedded student N={red.dim} ({red.relevant_dim} in the loss), {RUNS} runs x "
          f"{cycles} cycles: reduced {t_red:.2f} s, explicit {t_big:.2f} s "
          f"({t_big / t_red:.1f}x); |z| = {c.max_abs_z:.2f}")
    assert c.passed, c.summary()
    assert t_big > t_red
