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


def test_bad_bound_alpha_dof_and_allowance_are_refused():
    for kw in ({"bound": -1.0}, {"bound": 0.0}, {"bound": float("nan")}, {"alpha": 1.5},
               {"alpha": 0.0}, {"dof": 0}, {"dof": float("inf")}, {"allowance": -1.0},
               {"rel_allowance": float("nan")}):
        with pytest.raises(ValueError):
            compare("x", [1.0], [1.0], [0.1], **kw)
    with pytest.raises(ValueError, match="empty"):
        compare("x", [], [], [])


def test_se_and_allowance_add_in_quadrature_with_a_known_z():
    c = compare("x", [10.0], [15.0], [3.0], allowance=4.0)
    assert c.z[0] == pytest.approx(1.0)  # 5 / hypot(3, 4); linear addition would give 5/7
    c = compare("x", [10.0], [15.0], [3.0], rel_allowance=0.4)
    assert c.z[0] == pytest.approx(1.0)


def test_student_t_bound_nominal_level_and_kind():
    from scipy.stats import t as student_t

    from validate.compare import nominal_level, sidak_bound

    m, alpha = 8, 0.01
    per = 1 - (1 - alpha) ** (1 / m)
    assert sidak_bound(m, alpha, dof=3) == pytest.approx(student_t.isf(per / 2, 3))
    assert sidak_bound(m, alpha, dof=3) > sidak_bound(m, alpha)
    assert nominal_level(sidak_bound(m, alpha), m) == pytest.approx(alpha)
    assert nominal_level(3.0, 1) == pytest.approx(0.0026998, rel=1e-4)
    c = compare("x", np.ones(m), np.ones(m), np.full(m, 0.1), dof=3)
    assert c.kind == "statistical" and c.level == pytest.approx(alpha) and c.dof == 3
    assert c.bound == pytest.approx(sidak_bound(m, alpha, dof=3))
    single = compare("x", 1.0, 1.0, 0.1, bound=3.0)
    assert single.level == pytest.approx(0.0026998, rel=1e-4)
    # an allowance that dwarfs the standard error makes it a tolerance check, no level
    tol = compare("x", np.ones(3), np.ones(3), np.full(3, 1e-4), rel_allowance=0.01)
    assert tol.kind == "tolerance" and tol.level is None
    assert tol.summary()["max_abs_z"] is None and tol.summary()["kind"] == "tolerance"


def test_tolerance_check():
    from validate.compare import tolerance_check

    ok = tolerance_check("x", [1.0, 2.0], [1.005, 2.0], rtol=0.01)
    assert ok.passed and ok.kind == "tolerance" and ok.rel_err == pytest.approx(0.005)
    bad = tolerance_check("x", [1.0, 2.0], [1.02, 2.0], rtol=0.01)
    assert not bad.passed and bad.max_abs_z == pytest.approx(2.0)
    assert tolerance_check("x", [0.0], [1e-10], atol=1e-9).passed
    assert not tolerance_check("x", [1.0], [float("nan")], rtol=0.1).passed
    with pytest.raises(ValueError):
        tolerance_check("x", [1.0], [1.0])


def test_exact_sem_takes_the_larger_standard_error():
    c = compare("x", [1.0, 1.0], [1.3, 0.7], [0.01, 0.2], exact_sem=[0.1, 0.1])
    assert np.allclose(c.sem, [0.1, 0.2]) and np.allclose(c.z, [3.0, -1.5])
    with pytest.raises(ValueError, match="exact_sem"):
        compare("x", [1.0], [1.0], [0.1], exact_sem=[-1.0])


def test_verdict_flips_exactly_at_the_bound():
    """max|z| just below the Sidak bound passes, just above fails (no slack in the verdict);
    a tolerance check passes at 0.99 of its tolerance and fails at 1.01."""
    from validate.compare import tolerance_check

    m = 5
    b = sidak_bound(m, 0.01)
    sem = np.full(m, 0.1)
    for factor, ok in ((0.99, True), (1.01, False), (1.2, False)):
        mean = np.zeros(m)
        mean[2] = factor * b * 0.1
        c = compare("x", np.zeros(m), mean, sem)
        assert c.bound == pytest.approx(b) and c.passed is ok, (factor, c.max_abs_z, c.bound)
    ref = np.array([1.0, 2.0, 4.0])
    assert tolerance_check("t", ref, ref * 1.0099, rtol=0.01).passed
    assert not tolerance_check("t", ref, ref * 1.0101, rtol=0.01).passed
    assert not tolerance_check("t", ref, ref + [0, 0, 0.05], atol=0.04).passed


def test_kind_is_tolerance_only_when_the_allowance_dominates_every_point():
    """A comparison is a tolerance check only if its allowance is >= 2 SE at *every* point;
    one point where the SE is comparable keeps it statistical (with a nominal level)."""
    theory = np.ones(3)
    assert compare("x", theory, theory, [0.01, 0.01, 0.01], allowance=0.05).kind == "tolerance"
    mixed = compare("x", theory, theory, [0.01, 0.01, 0.1], allowance=0.05)
    assert mixed.kind == "statistical" and mixed.level == pytest.approx(0.01)


def test_skew_compare_corrects_the_t_of_skewed_means():
    """Hall's (1992) transformation on means of n = 40 exponential draws (skewness 2): the
    plain t rejects the true mean at 3.4% two-sided (nominal 1%, almost all in the lower
    tail); the corrected statistic halves the excess.  4000 independent means, so each rate
    has a standard error of about 0.003."""
    import numpy as np
    from scipy.stats import norm

    from validate.compare import skew_compare

    rng = np.random.default_rng(1)
    n, m = 40, 4000
    X = rng.exponential(1.0, (n, m))
    c = skew_compare("exp", np.ones(m), X)
    T = (X.mean(0) - 1) / (X.std(0, ddof=1) / np.sqrt(n))
    zb = norm.isf(0.005)
    plain, hall = np.mean(np.abs(T) > zb), np.mean(np.abs(c.z) > zb)
    assert plain > 0.025 and hall < 0.6 * plain and abs(hall - 0.01) < abs(plain - 0.01)
    assert np.array_equal(c.mean, X.mean(0))  # the plain mean and SE are kept
    # symmetric data: the correction is small (the sample skewness alone has SD ~0.39)
    Y = rng.normal(1.0, 1.0, (n, 400))
    cy = skew_compare("normal", np.ones(400), Y)
    Ty = (Y.mean(0) - 1) / (Y.std(0, ddof=1) / np.sqrt(n))
    assert np.median(np.abs(cy.z - Ty)) < 0.05
    # a theory off by a factor of 2 fails
    assert not skew_compare("exp, doubled theory", 2 * np.ones(5), X[:, :5]).passed


def test_skew_compare_rejects_bad_samples():
    import numpy as np

    from validate.compare import skew_compare

    for bad in (np.ones(10), np.ones((2, 4))):
        with pytest.raises(ValueError, match="samples must be"):
            skew_compare("x", np.zeros(4), bad)
