"""``finite-lr-perceptron``: the predicted O(eta) bias against simulation, and the checks that
a doubled or a missing correction fails."""

import dataclasses

import numpy as np
import pytest

import validate.experiments.finite_lr_perceptron as exp
from validate.registry import RunConfig, run_experiment

# a small, fast configuration: RL's bias at N = 50 is several standard errors here
SMALL = {"dims": "50", "times": "2,4", "replicas": 400, "scan_lrs": "1e-3", "stat_lams": "3.0",
         "stat_replicas": 50, "window": 2.0}


def _run(seed=0, params=SMALL, quick=True):
    return run_experiment("finite-lr-perceptron",
                          RunConfig(quick=quick, seed=seed, params=params, figures=False))


def _scaled(factor):
    real = exp.first_order_perceptron

    def fake(*a, **kw):
        fo = real(*a, **kw)
        return dataclasses.replace(fo, delta=factor * fo.delta, Gamma=factor * fo.Gamma,
                                   gamma_perp=factor * fo.gamma_perp)
    return fake


def _by_name(res, start):
    return [c for c in res.comparisons if c.name.startswith(start)]


def test_small_run_passes_and_its_bias_is_detectable():
    res = _run()
    assert res.passed, [(c.name, c.max_abs_z) for c in res.comparisons]
    z_pred = np.abs(res.extra["cases"]["rl"]["z_predicted_bias"])
    assert z_pred.max() > 2.0  # the bias between eta and eta/2 alone, quick replicas
    z_flow = np.abs(res.extra["cases"]["rl"]["z_flow_alone_at_eta"])
    assert z_flow.max() > 4.0  # the flow alone misses the simulation at eta


@pytest.mark.parametrize("factor", [2.0, pytest.param(0.0, marks=pytest.mark.slow)])
def test_doubled_or_missing_correction_fails(monkeypatch, factor):
    monkeypatch.setattr(exp, "first_order_perceptron", _scaled(factor))
    res = _run()
    assert not res.passed
    direct = _by_name(res, "alignment of <w> at eta")
    assert any(not c.passed for c in direct)
    norm = _by_name(res, "E|w|^2")
    assert all(not c.passed for c in norm)
    # the Richardson check does not use the correction: it still passes
    assert all(c.passed for c in _by_name(res, "Richardson"))


def test_bad_parameters():
    with pytest.raises(ValueError, match="times"):
        _run(params={**SMALL, "times": "4,2"})
    with pytest.raises(ValueError, match="w0"):
        _run(params={**SMALL, "w0_par": 0.0, "w0_perp": 0.0})


@pytest.mark.slow
@pytest.mark.parametrize("quick", [True, False])
def test_default_run_passes_at_seed_0(quick):
    res = run_experiment("finite-lr-perceptron", RunConfig(quick=quick, seed=0, figures=False))
    assert res.passed
    assert max(np.abs(res.extra["cases"]["rl"]["z_predicted_bias"])) > 3.0
