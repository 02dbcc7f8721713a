"""``finite-lr-perceptron-forgetting``: the paper's forgetting setting at eta = 1e-2 against the
first-order prediction; the flow alone and a doubled correction fail."""

import numpy as np
import pytest

import validate.experiments.finite_lr_forgetting as exp
from validate.registry import RunConfig, run_experiment

# one noise level, three tasks: the bias after task 0 is many standard errors
SMALL = {"sigmas": "0.1", "tasks": 2, "replicas": 40}


def _run(seed=0):
    return run_experiment("finite-lr-perceptron-forgetting",
                          RunConfig(quick=True, seed=seed, params=SMALL, figures=False))


def test_small_run_passes_and_the_flow_alone_fails():
    res = _run()
    assert res.passed, [(c.name, c.max_abs_z) for c in res.comparisons]
    for rule in ("sl", "rl"):
        assert np.max(np.abs(res.extra[rule]["z_flow_alone_at_eta"])) > 5.0
        assert np.max(np.abs(res.extra[rule]["z_predicted_bias"])) > 3.0


def test_doubled_correction_fails(monkeypatch):
    real = exp.first_order_forgetting

    def doubled(*a, **kw):
        A, dA = real(*a, **kw)
        return A, 2 * dA
    monkeypatch.setattr(exp, "first_order_forgetting", doubled)
    res = _run()
    assert not any(c.passed for c in res.comparisons)


@pytest.mark.slow
@pytest.mark.parametrize("quick", [True, False])
def test_default_run_passes_at_seed_0(quick):
    res = run_experiment("finite-lr-perceptron-forgetting",
                         RunConfig(quick=quick, seed=0, figures=False))
    assert res.passed
