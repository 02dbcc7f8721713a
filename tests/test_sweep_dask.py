"""Dask executor: a LocalCluster with 2 workers gives results bit-identical to serial runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sweep_targets

from validate import store
from validate.sweep import load_points, run_sweep

distributed = pytest.importorskip("distributed")


def _arrays(out: Path) -> dict:
    return {r["id"]: store.load_arrays(out / "points", r["id"]) for r in load_points(out)}


def _same(a: Path, b: Path, n: int) -> None:
    assert (a / "table.csv").read_text() == (b / "table.csv").read_text()
    arr_a, arr_b = _arrays(a), _arrays(b)
    assert arr_a.keys() == arr_b.keys() and len(arr_a) == n
    for pid, arrays in arr_a.items():
        assert arrays.keys() == arr_b[pid].keys()
        for name, value in arrays.items():
            assert value.dtype == arr_b[pid][name].dtype
            assert value.tobytes() == arr_b[pid][name].tobytes()


def test_dask_cluster_address_matches_serial_bit_for_bit(tmp_path):
    grid = {"gamma": [0.05, 0.3], "dim": [2, 4]}
    kw = {"replicates": 3, "seed": 5, "params": {"replicas": 10, "steps": 50}}
    serial = run_sweep(sweep_targets.lms_ensemble, grid, out_dir=tmp_path / "serial",
                       executor="serial", **kw)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        res = run_sweep(sweep_targets.lms_ensemble, grid, out_dir=tmp_path / "dask",
                        executor="dask", address=cluster.scheduler_address, **kw)
        assert len(cluster.scheduler.workers) == 2
    assert serial.computed == res.computed == 12 and res.state == "complete"
    _same(tmp_path / "serial", tmp_path / "dask", 12)
    man = json.loads((tmp_path / "dask" / "manifest.json").read_text())
    assert man["executor"]["name"] == "dask" and man["executor"]["address"].startswith(
        ("tcp://", "inproc://"))
    assert all(p["status"] == "ok" and p["elapsed_s"] > 0 for p in man["points"])


def test_dask_local_cluster_runs_a_registered_experiment_identically(tmp_path):
    grid = {"dim": [3, 4]}
    kw = {"replicates": 1, "seed": 2, "quick": True,
          "params": {"replicas": 40, "window_factor": 1.0, "fractions": "0.5", "points": 6}}
    run_sweep("lms", grid, out_dir=tmp_path / "serial", executor="serial", **kw)
    res = run_sweep("lms", grid, out_dir=tmp_path / "dask", executor="dask", workers=2,
                    executor_kwargs={"processes": False}, **kw)
    assert res.ok == 2
    _same(tmp_path / "serial", tmp_path / "dask", 2)
    man = json.loads((tmp_path / "dask" / "manifest.json").read_text())
    assert man["executor"] == {"name": "dask", "address": None, "workers": 2,
                               "processes": False, "cluster": "LocalCluster"}


@pytest.mark.slow
def test_dask_worker_processes_and_local_processes_match_serial(tmp_path):
    """Real worker processes (Dask LocalCluster and ProcessPoolExecutor) on the lms experiment."""
    grid = {"dim": [3, 5], "fractions": [0.2, 0.5]}
    kw = {"replicates": 2, "seed": 9, "quick": True,
          "params": {"replicas": 100, "window_factor": 2.0, "points": 8}}
    run_sweep("lms", grid, out_dir=tmp_path / "serial", executor="serial", **kw)
    run_sweep("lms", grid, out_dir=tmp_path / "process", executor="process", workers=2, **kw)
    res = run_sweep("lms", grid, out_dir=tmp_path / "dask", executor="dask", workers=2,
                    executor_kwargs={"processes": True}, **kw)
    assert res.ok == 8
    _same(tmp_path / "serial", tmp_path / "process", 8)
    _same(tmp_path / "serial", tmp_path / "dask", 8)
    man = json.loads((tmp_path / "dask" / "manifest.json").read_text())
    assert len({p["worker"] for p in man["points"]}) == 2  # two worker processes took part
