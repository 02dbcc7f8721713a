"""Every registered experiment is calibrated: over many seeds, each statistical comparison
fails about as often as its nominal level says (inside its binomial acceptance interval, the
experiment's tests held at 99% together), at the defaults and in quick mode.

Slow (hours on two cores): ``pytest -m slow tests/test_calibration.py``.  The seeds are a
resumable sweep under ``$LEARNDYN_CALIBRATION_DIR`` (default ``calibrations/`` in the working
folder), so an interrupted run continues where it stopped; ``$LEARNDYN_CALIBRATION_SEEDS``
sets the number of seeds (default 100, the least the claim needs),
``$LEARNDYN_CALIBRATION_WORKERS`` the worker processes (default: all cores) and
``$LEARNDYN_CALIBRATION_ADDRESS`` a running Dask scheduler (``tcp://HOST:PORT``) to spread the
seeds over a cluster: at the defaults the whole set is about 20 CPU-hours (measured seconds per
seed are in each ``calibration.json``).
"""

import os
from pathlib import Path

import pytest

from validate.calibrate import (
    acceptance_interval,
    calibrate,
    family_confidence,
    summarize_points,
)
from validate.registry import experiments

SEEDS = int(os.environ.get("LEARNDYN_CALIBRATION_SEEDS", "100"))
WORKERS = int(os.environ["LEARNDYN_CALIBRATION_WORKERS"]) \
    if "LEARNDYN_CALIBRATION_WORKERS" in os.environ else None
ROOT = Path(os.environ.get("LEARNDYN_CALIBRATION_DIR", "calibrations"))
ADDRESS = os.environ.get("LEARNDYN_CALIBRATION_ADDRESS") or None


@pytest.mark.slow
@pytest.mark.parametrize("quick", [True, False], ids=["quick", "defaults"])
@pytest.mark.parametrize("name", sorted(experiments()))
def test_experiment_is_calibrated(name, quick):
    assert SEEDS >= 100, "the calibration claim needs at least 100 seeds"
    out = ROOT / f"{name}-{'quick' if quick else 'full'}"
    cal = calibrate(name, SEEDS, quick=quick, out_dir=out, workers=WORKERS, progress=False,
                    executor="dask" if ADDRESS else "process", address=ADDRESS)
    assert cal.errors == 0
    bad = [c.to_dict() for c in cal.comparisons if not c.ok]
    assert not bad, bad
    assert cal.passed, cal.to_dict()


def test_acceptance_interval_and_summary_logic():
    """Fast: the interval holds Bin(k, level) with >= 99%, and a summary of synthetic records
    counts failures per comparison and flags too many."""
    from scipy.stats import binom

    for k, level in [(100, 0.01), (200, 0.0027), (1000, 0.05)]:
        lo, hi = acceptance_interval(k, level)
        assert binom.cdf(hi, k, level) - binom.cdf(lo - 1, k, level) >= 0.99
        assert binom.sf(hi, k, level) <= 0.005 and binom.cdf(lo - 1, k, level) <= 0.005
    import numpy as np

    def rec(passed_a, passed_b):
        return {"status": "ok", "scalars": {
            "n_comparisons": 2, "cmp0.name": "a", "cmp0.kind": "statistical",
            "cmp0.level": 0.01, "cmp0.passed": passed_a, "cmp1.name": "b",
            "cmp1.kind": "tolerance", "cmp1.level": float("nan"), "cmp1.passed": passed_b},
            "arrays_data": {"cmp0.z": np.array([0.5, -0.5]), "cmp1.z": np.array([0.1])}}

    records = [rec(i >= 10, True) for i in range(100)]  # 10 failures of 100 at a 1% level
    cal = summarize_points("x", records, quick=True, seeds=100, params={})
    a, b = cal.comparisons
    assert (a.failures, a.verdict, b.kind, b.verdict) == (10, "too many failures", "tolerance",
                                                          "tolerance check")
    assert a.mean_z == 0 and not cal.passed and cal.any_failures == 10
    ok = summarize_points("x", [rec(i != 0, True) for i in range(100)], quick=True, seeds=100,
                          params={})
    assert ok.passed and ok.comparisons[0].verdict == "calibrated"


@pytest.mark.parametrize("m", [1, 2, 4, 8, 12])
@pytest.mark.parametrize("seeds,level", [(100, 0.01), (200, 0.01), (100, 0.0027)])
def test_calibrated_experiment_passes_with_family_confidence(m, seeds, level):
    """Fast, exact: an experiment whose m comparisons fail independently at exactly their
    nominal level passes every per-comparison interval with probability >= 99% (Šidák), and
    the per-comparison 99% intervals used alone would not (for m >= 2 they fall short)."""
    from scipy.stats import binom

    def inside(conf):
        lo, hi = acceptance_interval(seeds, level, conf)
        return binom.cdf(hi, seeds, level) - binom.cdf(lo - 1, seeds, level)

    conf = family_confidence(m + 1)
    assert 0.99 < conf < 1 and conf ** (m + 1) == pytest.approx(0.99)
    assert inside(conf) ** m >= 0.99
    if m >= 4:
        assert inside(0.99) ** m < 0.99


def test_family_confidence_rejects_no_tests():
    with pytest.raises(ValueError, match="tests"):
        family_confidence(0)
