r"""learndyn vs Brian2 (cython target) on the same Hodgkin–Huxley population.

Run: ``python tests/benchmarks/hh_vs_brian2.py [--out DIR] [--repeats 2]`` (or through
``pytest -m bench tests/benchmarks/test_bench_hh.py -s``).

The population: 1000 independent neurons, currents ``linspace(6, 20, 1000)`` uA/cm^2 from rest,
1 s, dt = 0.01 ms, classical RK4, spikes = crossings of 0 mV re-armed below -20 mV (Brian2:
``threshold='v > 0*mV', refractory='v > -20*mV'``).  Both start from learndyn's rest state
(V, m, h, n at I = 0).  The spike counts must agree neuron by neuron; learndyn must be at
least 2x faster than Brian2's cython target with its compiled-code cache warm.

Brian2 2.9.0 requires numpy < 2, so it is **never** a learndyn dependency: this script makes
its own virtual environment (``LEARNDYN_BRIAN2_VENV``, default
``~/.cache/learndyn/brian2-venv``) with ``pip install brian2==2.9.0 "numpy<2" cython`` on
first use, and runs Brian2 there in a subprocess that prints JSON.  Brian2's cython target
needs a C compiler.

Timing: both sides first run a short warm-up (learndyn: the numba compilation; Brian2: code
generation, cython compilation or cache load), then the 1 s run is timed ``--repeats`` times
(Brian2: ``store``/``restore`` around the warm-up); reported are the best wall and CPU times.
The ratio uses CPU time of the simulating process (the machine may be shared), wall time is
reported too.  The cost per neuron-step is compared with the arithmetic the model needs
(:func:`numerics.hh_codegen.count_operations`).

learndyn is timed twice: the neuron alone (``output=False``: V, m, h, n — the same work as
Brian2's model) and the full cell with its synapse variable s (the output a(t) that the loss
integrates).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

import numpy as np

N_NEURONS = 1000
DURATION_MS = 1000.0
DT_MS = 0.01
CURRENTS = (6.0, 20.0)

BRIAN2_SCRIPT = r'''
import json, sys, time
import numpy as np
from brian2 import (NeuronGroup, SpikeMonitor, Network, defaultclock, prefs, ms, mV, uF, cm,
                    msiemens, uA, second)
import brian2
cfg = json.loads(sys.argv[1])
prefs.codegen.target = "cython"
defaultclock.dt = cfg["dt_ms"] * ms
eqs = """
dv/dt = (I - gNa*m**3*h*(v - ENa) - gK*n**4*(v - EK) - gL*(v - EL))/Cm : volt
dm/dt = alpham*(1 - m) - betam*m : 1
dh/dt = alphah*(1 - h) - betah*h : 1
dn/dt = alphan*(1 - n) - betan*n : 1
alpham = 1/exprel(-(v + 40*mV)/(10*mV))/ms : Hz
betam = 4*exp(-(v + 65*mV)/(18*mV))/ms : Hz
alphah = 0.07*exp(-(v + 65*mV)/(20*mV))/ms : Hz
betah = 1/(1 + exp(-(v + 35*mV)/(10*mV)))/ms : Hz
alphan = 0.1/exprel(-(v + 55*mV)/(10*mV))/ms : Hz
betan = 0.125*exp(-(v + 65*mV)/(80*mV))/ms : Hz
I : amp/meter**2
"""
ns = {"Cm": 1*uF/cm**2, "gNa": 120*msiemens/cm**2, "gK": 36*msiemens/cm**2,
      "gL": 0.3*msiemens/cm**2, "ENa": 50*mV, "EK": -77*mV, "EL": -54.387*mV}
n = cfg["n"]
G = NeuronGroup(n, eqs, threshold="v > 0*mV", refractory="v > -20*mV", method="rk4",
                namespace=ns)
G.I = np.linspace(cfg["i_min"], cfg["i_max"], n) * uA/cm**2
V0, m0, h0, n0 = cfg["rest"]
G.v = V0*mV
G.m = m0
G.h = h0
G.n = n0
M = SpikeMonitor(G, record=False)
net = Network(G, M)
net.store()
t0 = time.perf_counter()
net.run(0.1*ms)  # warm-up: code generation + cython compilation (or cache load)
first = time.perf_counter() - t0
best_wall, best_cpu = float("inf"), float("inf")
for _ in range(cfg["repeats"]):
    net.restore()
    t0, c0 = time.perf_counter(), time.process_time()
    net.run(cfg["duration_ms"]*ms)
    best_wall = min(best_wall, time.perf_counter() - t0)
    best_cpu = min(best_cpu, time.process_time() - c0)
print(json.dumps({"brian2": brian2.__version__, "numpy": np.__version__,
                  "warmup_s": first, "wall_s": best_wall, "cpu_s": best_cpu,
                  "counts": np.asarray(M.count).tolist()}))
'''


def brian2_python() -> Path:
    """The Brian2 virtual environment's interpreter (created on first use)."""
    root = Path(os.environ.get("LEARNDYN_BRIAN2_VENV",
                               Path.home() / ".cache" / "learndyn" / "brian2-venv"))
    py = root / "bin" / "python"
    if not py.exists():
        print(f"creating the Brian2 environment in {root} (numpy < 2; not a learndyn "
              "dependency)", file=sys.stderr)
        venv.EnvBuilder(with_pip=True, clear=True).create(root)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "brian2==2.9.0", "numpy<2",
                        "cython", "setuptools"], check=True)
    return py


def run_brian2(rest, repeats: int) -> dict:
    py = brian2_python()
    cfg = {"n": N_NEURONS, "dt_ms": DT_MS, "duration_ms": DURATION_MS, "i_min": CURRENTS[0],
           "i_max": CURRENTS[1], "rest": [float(x) for x in rest[:4]], "repeats": repeats}
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(BRIAN2_SCRIPT)
        script = f.name
    try:
        out = subprocess.run([str(py), script, json.dumps(cfg)], check=True,
                             capture_output=True, text=True)
    finally:
        os.unlink(script)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_learndyn(repeats: int, output: bool = True, backend: str = "numba") -> dict:
    """``output=True``: the full cell (V, m, h, n and the synapse s, 5 variables);
    ``output=False``: the neuron alone (V, m, h, n), the work Brian2 does."""
    from numerics.hh import simulate

    currents = np.linspace(*CURRENTS, N_NEURONS)
    t0 = time.perf_counter()
    simulate(currents[:2], duration_ms=0.1, dt_ms=DT_MS, backend=backend, progress=False,
             output=output)
    warm = time.perf_counter() - t0
    best_wall, best_cpu, res = float("inf"), float("inf"), None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        res = simulate(currents, duration_ms=DURATION_MS, dt_ms=DT_MS, backend=backend,
                       progress=False, output=output)
        best_wall = min(best_wall, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return {"warmup_s": warm, "wall_s": best_wall, "cpu_s": best_cpu,
            "counts": res.spike_counts[0, 0].tolist()}


def arithmetic() -> dict:
    """Operations per neuron-step of classical RK4 on the 5-variable cell (4 evaluations of
    the generated right-hand side + the weighted sum of the stages, 5 variables x 8 ops)."""
    from numerics.hh_codegen import count_operations

    ops = count_operations()
    exp = ops.pop("EXP")
    div = ops.pop("DIV", 0)
    pow_ = ops.pop("POW", 0)
    arith = sum(ops.values())
    return {"per_rhs": {"arith": arith, "div": div, "pow": pow_, "exp": exp},
            "per_step": {"arith": 4 * arith + 40, "div": 4 * div, "pow": 4 * pow_,
                         "exp": 4 * exp}}


def cpu_ghz() -> float | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("cpu MHz"):
                return float(line.split(":")[1]) / 1000.0
    except OSError:
        pass
    return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", default=None, help="folder for hh_vs_brian2.json")
    ap.add_argument("--skip-brian2", action="store_true")
    args = ap.parse_args(argv)
    from numerics.hh_stability import rest_state

    rest = rest_state()
    ours = run_learndyn(args.repeats, output=False)
    full = run_learndyn(args.repeats, output=True)
    steps = N_NEURONS * DURATION_MS / DT_MS
    report = {"population": {"neurons": N_NEURONS, "duration_ms": DURATION_MS, "dt_ms": DT_MS,
                             "currents": list(CURRENTS), "method": "rk4"},
              "learndyn": {k: v for k, v in ours.items() if k != "counts"},
              "learndyn_with_synapse": {k: v for k, v in full.items() if k != "counts"},
              "total_spikes_learndyn": int(np.sum(ours["counts"])),
              "synapse_changes_counts": bool(ours["counts"] != full["counts"])}
    report["learndyn"]["ns_per_neuron_step_cpu"] = ours["cpu_s"] / steps * 1e9
    report["learndyn_with_synapse"]["ns_per_neuron_step_cpu"] = full["cpu_s"] / steps * 1e9
    report["arithmetic"] = arithmetic()
    ghz = cpu_ghz()
    if ghz:
        report["cpu_ghz"] = ghz
        report["learndyn"]["cycles_per_neuron_step"] = ours["cpu_s"] / steps * ghz * 1e9
    if not args.skip_brian2:
        theirs = run_brian2(rest, args.repeats)
        report["brian2"] = {k: v for k, v in theirs.items() if k != "counts"}
        report["brian2"]["ns_per_neuron_step_cpu"] = theirs["cpu_s"] / steps * 1e9
        a, b = np.asarray(ours["counts"]), np.asarray(theirs["counts"])
        report["total_spikes_brian2"] = int(b.sum())
        report["counts_equal"] = bool(np.array_equal(a, b))
        report["neurons_differing"] = int(np.sum(a != b))
        report["speedup_cpu"] = theirs["cpu_s"] / ours["cpu_s"]
        report["speedup_wall"] = theirs["wall_s"] / ours["wall_s"]
        report["speedup_cpu_with_synapse"] = theirs["cpu_s"] / full["cpu_s"]
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "hh_vs_brian2.json").write_text(text + "\n")
    if not args.skip_brian2 and not (report["counts_equal"] and report["speedup_cpu"] >= 2):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
