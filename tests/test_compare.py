import numpy as np
import pytest
from scipy.stats import norm

from validate.compare import compare, sidak_bound


def test_sidak_bound_values():
    assert sidak_bound(1, 0.01) == pytest.approx(norm.isf(0.005))
    assert sidak_bound(25, 0.01) > sidak_bound(5, 0.01) > sidak_bound(1, 0.01)
    # Sidak family-wise error is exact for independent tests
    m = 40
    per = 2 * norm.sf(sidak_bound(m, 0.01))
    assert 1 - (1 - per) ** m == pytest.approx(0.01, rel=1e-9)


def test_false_alarm_rate_is_controlled():
    rng = np.random.default_rng(0)
    fails = 0
    for _ in range(2000):
        mean = rng.standard_normal(30) * 0.1
        fails += not compare("x", np.zeros(30), mean, np.full(30, 0.1)).passed
    assert fails / 2000 < 0.02


def test_factor_two_error_is_detected_and_allowance_is_stated():
    theory = np.linspace(1, 2, 10)
    sem = 0.01 * theory
    assert compare("ok", theory, theory + 0.5 * sem, sem).passed
    c = compare("bad", 2 * theory, theory, sem)
    assert not c.passed and c.rel_err == pytest.approx(0.5)
    # a 10% model-error allowance absorbs a 5% bias but not a factor 2
    assert compare("bias", theory, 1.05 * theory, sem, rel_allowance=0.1).passed
    assert not compare("bias", theory, 2 * theory, sem, rel_allowance=0.1).passed


def test_bad_shapes_and_sem():
    with pytest.raises(ValueError, match="same shape"):
        compare("x", [1, 2], [1], [1])
    with pytest.raises(ValueError, match="sem"):
        compare("x", [1], [1], [np.nan])


def test_richardson_half_step_removes_a_linear_bias():
    from validate.compare import richardson_half_step

    truth, slope = 0.8, 3.0
    m0, se0 = richardson_half_step(truth + slope * 1e-3, 0.01, truth + slope * 5e-4, 0.02)
    assert abs(m0 - truth) < 1e-12
    assert abs(se0 - np.hypot(0.04, 0.01)) < 1e-15
