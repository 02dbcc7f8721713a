"""``finite-lr-lms``: first-order LMS theory against the exact discrete theory and simulation;
a doubled correction fails."""

import pytest

import validate.experiments.finite_lr_lms as exp
from validate.registry import RunConfig, run_experiment

SMALL = {"replicas": 600, "points": 6}


def _run(params=SMALL):
    return run_experiment("finite-lr-lms", RunConfig(quick=True, seed=0, params=params,
                                                     figures=False))


def test_small_run_passes():
    res = _run()
    assert res.passed, [(c.name, c.max_abs_z, c.rel_err) for c in res.comparisons]
    # the O(gamma^2) remainder of the first-order curve is a fraction of a standard error
    assert max(abs(z) for z in res.extra["remainder_over_se"]) < 0.5


def test_doubled_correction_fails(monkeypatch):
    real_loss, real_stat = exp.first_order_loss, exp.stationary_coefficients
    monkeypatch.setattr(exp, "first_order_loss",
                        lambda p, t: (real_loss(p, t)[0], 2 * real_loss(p, t)[1]))
    monkeypatch.setattr(exp, "stationary_coefficients",
                        lambda p: tuple(2 * c for c in real_stat(p)))
    res = _run()
    assert [c.passed for c in res.comparisons] == [False, False, False, False]


def test_bad_parameters():
    with pytest.raises(ValueError, match="fraction"):
        _run({"fraction": 0.7})
    with pytest.raises(ValueError, match="lambdas"):
        _run({"lambdas": "1.0"})


@pytest.mark.slow
@pytest.mark.parametrize("name", ["finite-lr-lms", "finite-lr-deep-linear"])
@pytest.mark.parametrize("quick", [True, False])
def test_default_runs_pass_at_seed_0(name, quick):
    assert run_experiment(name, RunConfig(quick=quick, seed=0, figures=False)).passed
