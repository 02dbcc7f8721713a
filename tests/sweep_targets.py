"""Simulation functions used as sweep targets by the sweep tests.

Module-level (importable by spawned worker processes, Dask workers and a ``learndyn sweep``
subprocess run with this folder on PYTHONPATH); not collected by pytest.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from numerics.sim.ensemble import simulate_ensemble
from numerics.sim.lms import LmsRule


def lms_ensemble(params: dict, seed) -> dict:
    """A small LMS ensemble (numerics.sim.ensemble): learning curve and final excess loss."""
    dim = int(params.get("dim", 3))
    R = np.diag(np.linspace(0.5, 1.5, dim))
    gamma = float(params["gamma"])
    rule = LmsRule(R, np.ones(dim), gamma, float(params.get("noise_var", 0.1)))
    steps = int(params.get("steps", 60))
    ens = simulate_ensemble(rule, np.zeros(dim), steps, replicas=int(params.get("replicas", 16)),
                            seed=seed, record_steps=np.arange(0, steps + 1, 10),
                            observable=rule.excess_loss, progress=False)
    return {"final_mean": float(ens.mean[-1, 0]), "final_sem": float(ens.sem[-1, 0]),
            "curve": ens.mean[:, 0], "curve_sem": ens.sem[:, 0], "steps": ens.steps}


def counted(params: dict, seed) -> dict:
    """Log every start to ``params['log']``; sleep ``params['delay']`` s; maybe raise.

    Raises ``RuntimeError`` when the file ``params['fail_flag']`` exists and ``x`` is in
    ``params['fail_x']`` (a '|' separated list), so a test can make points fail once and
    succeed on the re-run; likewise the worker process exits hard (``os._exit``) when
    ``params['die_flag']`` exists and ``x`` is in ``params['die_x']``.  The log line is
    ``x,index-replicate`` (the seed's spawn key), written with O_APPEND.
    """
    ss = seed
    key = "-".join(map(str, ss.spawn_key))
    fd = os.open(params["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{params['x']},{key}\n".encode())
    finally:
        os.close(fd)
    time.sleep(float(params.get("delay", 0.0)))
    flag = params.get("fail_flag")
    fail_x = {int(v) for v in str(params.get("fail_x", "")).split("|") if v}
    if flag and Path(flag).exists() and int(params["x"]) in fail_x:
        raise RuntimeError(f"injected failure at x={params['x']}")
    die = {int(v) for v in str(params.get("die_x", "")).split("|") if v}
    if params.get("die_flag") and Path(params["die_flag"]).exists() and int(params["x"]) in die:
        os._exit(3)  # a worker killed hard (no exception, no result)
    rng = np.random.default_rng(ss)
    draws = rng.standard_normal(4)
    return {"value": float(draws.mean()), "draws": draws, "x_squared": int(params["x"]) ** 2}
