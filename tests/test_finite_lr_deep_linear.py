"""Deep-linear half-time at a finite learning rate: the derived first-order coefficient against
the exact mode map, and the experiment (including a doubled coefficient failing)."""

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import numerics.finite_lr_deep_linear as fdl
import validate.experiments.finite_lr_deep_linear as exp
from numerics.finite_lr_deep_linear import half_time_coefficients, map_half_time, relative_lag
from theory.deep_linear import LAYER, layer_rate
from theory.finite_lr import mode_map_half_time
from validate.registry import RunConfig, run_experiment


def test_mode_map_half_time_is_derived_from_the_modified_equation():
    mm = mode_map_half_time(layer_rate(2), LAYER)
    g = mm.g
    assert sp.simplify(mm.modified - (g - mm.h / 2 * sp.diff(g, mm.c) * g)) == 0
    # T1 = 1/2 int g'/g dc from c0 to c1
    assert sp.simplify(sp.diff(mm.T1, mm.c1) - (sp.diff(g, mm.c) / g / 2).subs(mm.c, mm.c1)) == 0


@settings(max_examples=10, deadline=None)
@given(s=st.floats(0.5, 3.0), a0=st.floats(1e-4, 0.05), depth=st.sampled_from([1, 2, 3]))
def test_first_order_lag_is_the_small_step_slope_of_the_exact_map(s, a0, depth):
    """(4 lag(h/2) - lag(h)) / h -> T1/t0 as h -> 0 (second-order remainder)."""
    h = 1e-3
    t0, T1 = half_time_coefficients(s, 1.0, a0, depth)
    lag = [map_half_time(s, 1.0, a0, depth, x) / t0 - 1 for x in (h / 2, h)]
    slope = (4 * lag[0] - lag[1]) / h
    assert slope == pytest.approx(T1 / t0, rel=2e-3, abs=1e-6)


def test_lag_remainder_is_second_order_and_bad_input():
    s, a0 = 2.0, 1e-3
    t0, _ = half_time_coefficients(s, 1.0, a0, 2)
    r = [abs(map_half_time(s, 1.0, a0, 2, h) / t0 - 1 - relative_lag(s, 1.0, a0, 2, h))
         for h in (0.02, 0.04)]
    assert 3.0 < r[1] / r[0] < 5.0
    with pytest.raises(ValueError, match="a0"):
        half_time_coefficients(1.0, 1.0, 0.6, 2)
    with pytest.raises(ValueError, match="dt"):
        map_half_time(1.0, 1.0, 1e-3, 2, -0.1)


def _run(params=None):
    return run_experiment("finite-lr-deep-linear",
                          RunConfig(quick=True, seed=0, params=params or {}, figures=False))


def test_experiment_passes_and_doubled_coefficient_fails(monkeypatch):
    res = _run()
    assert res.passed, [(c.name, c.rel_err) for c in res.comparisons]
    real = fdl.half_time_coefficients
    monkeypatch.setattr(exp, "half_time_coefficients",
                        lambda *a: (real(*a)[0], 2 * real(*a)[1]))
    bad = _run()
    assert [c.passed for c in bad.comparisons] == [True, False, False]


def test_experiment_bad_parameters():
    with pytest.raises(ValueError, match="h/2"):
        _run({"lrs": "0.001,0.003,0.01"})
    with pytest.raises(ValueError, match="increasing"):
        _run({"lrs": "0.01,0.005,0.02"})
