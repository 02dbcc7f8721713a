"""``learndyn validate estimators-hh-training``: runs small and quick; the pathwise gradient
check (tangent equations vs a centred finite difference of the noise-frozen loss) fails when
the pathwise gradient is doubled; a SeedSequence-free integer seed freezes the noise."""

import numpy as np
import pytest

import validate.experiments.estimators_hh_training as hx
from numerics.hh_network import HHClassifier
from validate.registry import RunConfig, run_experiment

SMALL = {"hidden": 3, "pool": 4, "train": 6, "test": 8, "short_ms": 10, "long_ms": 30,
         "steps": 2, "S": 3, "windows": "10,30", "trials": 2}


def _run(**kw):
    return run_experiment("estimators-hh-training",
                          RunConfig(quick=True, seed=1, figures=False, params=SMALL | kw))


def test_small_run_passes_and_records_curves():
    res = _run()
    assert res.passed, [c.summary() for c in res.comparisons]
    tr = res.extra["training"]
    for w in ("short", "long"):
        for m in ("pathwise", "antithetic", "regression"):
            acc = tr[w][m]["test_accuracy"]
            assert len(acc) == SMALL["steps"] + 1 or tr[w][m]["failed"]
            assert all(0.0 <= a <= 1.0 for a in acc)
    assert res.extra["sweep"]["window_ms"] == [10.0, 30.0]


def test_doubled_pathwise_gradient_fails(monkeypatch):
    original = HHClassifier.gradient

    def doubled(self, *args, **kwargs):
        loss, g, r = original(self, *args, **kwargs)
        return loss, 2 * g, r

    monkeypatch.setattr(HHClassifier, "gradient", doubled)
    res = _run(steps=1)
    assert not res.passed


def test_int_seed_freezes_noise():
    ss = np.random.SeedSequence(3)
    assert hx.int_seed(ss) == hx.int_seed(np.random.SeedSequence(3))


@pytest.mark.parametrize("bad", [{"classes": "0,1,2"}, {"pool": 3}, {"b_min": 30.0},
                                 {"short_ms": 300.0}])
def test_bad_parameters(bad):
    with pytest.raises(ValueError):
        _run(**bad)
