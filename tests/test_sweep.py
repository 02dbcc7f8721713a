"""Sweeps: seeding, executor independence, resumability after errors, corruption and Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import sweep_targets
from hypothesis import given, settings
from hypothesis import strategies as st

from validate import store
from validate.cli import main
from validate.executors import WorkerLost
from validate.sweep import (
    UNRECORDED_CODE,
    SweepMismatchError,
    code_counts,
    code_identity,
    collect,
    grid_points,
    load_points,
    plan,
    point_seeds,
    run_sweep,
)

TESTS = Path(__file__).parent
GRID = {"gamma": [0.05, 0.2, 0.4], "dim": [2, 3]}


def _table(out: Path) -> list[dict]:
    import csv

    with open(out / "table.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def _arrays(out: Path) -> dict:
    return {r["id"]: store.load_arrays(out / "points", r["id"]) for r in load_points(out)}


def _log(path: Path) -> Counter:
    return Counter(path.read_text().splitlines()) if path.exists() else Counter()


def test_grid_order_and_spawned_seeds():
    pts = grid_points({"a": [1, 2], "b": ["x", "y", "z"]})
    assert pts[:3] == [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 1, "b": "z"}]
    tasks = plan(sweep_targets.counted, {"a": [1, 2], "b": ["x", "y", "z"]}, replicates=4,
                 seed=7, params={"log": "unused"})
    assert len(tasks) == 24 and len({t.id for t in tasks}) == 24
    root = np.random.SeedSequence(7)
    for t in tasks:
        expect = root.spawn(6)[t.index].spawn(4)[t.replicate]  # fresh root each time: same kids
        root = np.random.SeedSequence(7)
        got = t.seed_sequence()
        assert np.array_equal(got.generate_state(4), expect.generate_state(4))
    nested = point_seeds(7, 6, 4)
    assert nested[5][3].spawn_key == (5, 3)
    # a replicate's stream does not depend on how many replicates the sweep asks for
    more = plan(sweep_targets.counted, {"a": [1, 2], "b": ["x", "y", "z"]}, replicates=6,
                seed=7, params={"log": "unused"})
    assert {t.id for t in tasks} <= {t.id for t in more}


def test_bad_grids_raise():
    with pytest.raises(ValueError, match="repeated"):
        grid_points({"a": [1, 1]})
    with pytest.raises(ValueError, match="reserved"):
        grid_points({"status": [1]})
    with pytest.raises(TypeError, match="list of values"):
        grid_points({"a": "1,2"})
    with pytest.raises(ValueError, match="no parameter"):
        plan("lms", {"nope": [1]})
    with pytest.raises(KeyError, match="unknown experiment"):
        plan("no-such-experiment", {"a": [1]})
    with pytest.raises(ValueError, match="both fixed"):
        plan(sweep_targets.counted, {"x": [1]}, params={"x": 2})


def test_serial_and_process_executors_are_bit_identical(tmp_path):
    kw = {"replicates": 2, "seed": 11, "params": {"replicas": 12, "steps": 40}}
    a = run_sweep(sweep_targets.lms_ensemble, GRID, out_dir=tmp_path / "serial",
                  executor="serial", **kw)
    b = run_sweep("sweep_targets:lms_ensemble", GRID, out_dir=tmp_path / "process",
                  executor="process", workers=2, **kw)
    assert a.state == b.state == "complete" and a.computed == b.computed == 12
    ta = (tmp_path / "serial" / "table.csv").read_text()
    assert ta == (tmp_path / "process" / "table.csv").read_text()
    arr_a, arr_b = _arrays(tmp_path / "serial"), _arrays(tmp_path / "process")
    assert arr_a.keys() == arr_b.keys() and len(arr_a) == 12
    for pid in arr_a:
        for name in ("curve", "curve_sem", "steps"):
            assert arr_a[pid][name].tobytes() == arr_b[pid][name].tobytes()
    man = json.loads((tmp_path / "process" / "manifest.json").read_text())
    assert man["counts"] == {"ok": 12, "error": 0, "missing": 0}
    assert {"numpy", "learndyn"} <= set(man["versions"]) and man["entropy"] == 11
    assert all(p["elapsed_s"] > 0 for p in man["points"])
    # a different seed gives different numbers (the seed reaches the simulation)
    c = run_sweep(sweep_targets.lms_ensemble, {"gamma": [0.05], "dim": [2]}, replicates=1,
                  seed=12, params=kw["params"], out_dir=tmp_path / "other", executor="serial")
    assert c.ok == 1
    assert _table(tmp_path / "other")[0]["final_mean"] != _table(tmp_path / "serial")[0][
        "final_mean"]


def test_worker_exceptions_are_recorded_and_rerun_recomputes_only_failed(tmp_path):
    log, flag, out = tmp_path / "log.txt", tmp_path / "FAIL", tmp_path / "sweep"
    flag.touch()
    params = {"log": str(log), "fail_flag": str(flag), "fail_x": "1|4"}
    grid = {"x": list(range(6))}
    first = run_sweep(sweep_targets.counted, grid, replicates=2, params=params, out_dir=out,
                      executor="process", workers=2)
    assert (first.ok, first.errors, first.missing, first.state) == (8, 4, 0, "incomplete")
    rows = _table(out)
    assert len(rows) == 12
    failed = {r["point"] for r in rows if r["status"] == "error"}
    assert {int(r["x"]) for r in rows if r["status"] == "error"} == {1, 4}
    assert all("injected failure" in r["error"] for r in rows if r["status"] == "error")
    rec = store.read_point(out / "points", sorted(failed)[0])
    assert "Traceback" in rec["error"]["traceback"] and "sweep_targets.py" in rec["error"][
        "traceback"]
    ok_files = {p: (out / "points" / f"{p}.json").stat().st_mtime_ns
                for p in (r["point"] for r in rows if r["status"] == "ok")}
    starts_before = _log(log)
    assert sum(starts_before.values()) == 12 and max(starts_before.values()) == 1

    flag.unlink()  # the failure goes away: the re-run must compute exactly the 4 failed points
    second = run_sweep(sweep_targets.counted, grid, replicates=2, params=params, out_dir=out,
                       executor="process", workers=2)
    assert (second.computed, second.reused, second.ok, second.errors) == (4, 8, 12, 0)
    assert second.state == "complete"
    starts = _log(log)
    assert sum(starts.values()) == 16
    assert {k for k, v in starts.items() if v == 2} == {f"{x},{i}-{r}" for x in (1, 4)
                                                         for i in (x,) for r in (0, 1)}
    for pid, mtime in ok_files.items():
        assert (out / "points" / f"{pid}.json").stat().st_mtime_ns == mtime
    rows = _table(out)
    assert len(rows) == 12 and len({r["point"] for r in rows}) == 12
    assert all(r["status"] == "ok" for r in rows)
    # a third run computes nothing
    third = run_sweep(sweep_targets.counted, grid, replicates=2, params=params, out_dir=out,
                      executor="serial")
    assert (third.computed, third.reused) == (0, 12) and sum(_log(log).values()) == 16


def test_corrupted_points_are_detected_and_recomputed_identically(tmp_path):
    out, log = tmp_path / "sweep", tmp_path / "log.txt"
    kw = {"replicates": 2, "params": {"log": str(log)}, "out_dir": out, "executor": "serial"}
    run_sweep(sweep_targets.counted, {"x": [0, 1, 2, 3]}, **kw)
    before = {r["id"]: (r["scalars"], _arrays(out)[r["id"]]["draws"]) for r in load_points(out)}
    ids = sorted(before)
    npz = out / "points" / f"{ids[0]}.npz"
    npz.write_bytes(npz.read_bytes()[:100])  # cut short
    (out / "points" / f"{ids[1]}.json").write_text('{"id": "trunc')  # half a record
    rec = json.loads((out / "points" / f"{ids[2]}.json").read_text())
    rec["scalars"]["value"] = 123.0  # edited without its checksum
    (out / "points" / f"{ids[2]}.json").write_text(json.dumps(rec))
    (out / "points" / f".{ids[3]}.json.999.tmp").write_text("{")  # stray temporary
    for pid in ids[:3]:
        assert store.read_point(out / "points", pid) is None
    again = run_sweep(sweep_targets.counted, {"x": [0, 1, 2, 3]}, **kw)
    assert (again.computed, again.reused, again.ok) == (3, 5, 8)
    assert not list((out / "points").glob(".*.tmp"))
    after = {r["id"]: (r["scalars"], _arrays(out)[r["id"]]["draws"]) for r in load_points(out)}
    for pid in ids:  # recomputed points reproduce the original numbers exactly
        assert after[pid][0] == before[pid][0]
        assert after[pid][1].tobytes() == before[pid][1].tobytes()


def test_manifest_mismatch_and_grid_extension(tmp_path):
    out, log = tmp_path / "sweep", tmp_path / "log.txt"
    params = {"log": str(log)}
    run_sweep(sweep_targets.counted, {"x": [0, 1]}, replicates=2, params=params, out_dir=out,
              executor="serial", seed=3)
    with pytest.raises(SweepMismatchError, match="seed"):
        run_sweep(sweep_targets.counted, {"x": [0, 1]}, replicates=2, params=params,
                  out_dir=out, executor="serial", seed=4)
    with pytest.raises(SweepMismatchError, match="fixed_params"):
        run_sweep(sweep_targets.counted, {"x": [0, 1]}, replicates=2,
                  params={**params, "delay": 0.0}, out_dir=out, executor="serial", seed=3)
    # a different grid is refused: one folder, one sweep, one run history ...
    with pytest.raises(SweepMismatchError, match="grid"):
        run_sweep(sweep_targets.counted, {"x": [0, 1, 2]}, replicates=2, params=params,
                  out_dir=out, executor="serial", seed=3)
    # ... more replicates extend the same sweep, keeping every stored point
    more = run_sweep(sweep_targets.counted, {"x": [0, 1]}, replicates=3, params=params,
                     out_dir=out, executor="serial", seed=3)
    assert (more.computed, more.reused, more.n_points) == (2, 4, 6)
    assert max(_log(log).values()) == 1
    man = json.loads((out / "manifest.json").read_text())
    assert man["replicates"] == 3 and len(man["runs"]) == 2
    # force replaces it: a new history; points whose id matches are still reused (same
    # computation, same stream), the others' files are removed
    forced = run_sweep(sweep_targets.counted, {"x": [0, 2]}, replicates=3, params=params,
                       out_dir=out, executor="serial", seed=3, force=True)
    assert forced.n_points == 6 and forced.reused == 3 and forced.computed == 3
    man = json.loads((out / "manifest.json").read_text())
    assert man["grid"] == {"x": [0, 2]} and len(man["runs"]) == 1
    assert len(list((out / "points").glob("*.json"))) == 6
    # rebuilding table and manifest from the point files alone
    (out / "table.csv").unlink()
    assert collect(out).ok == 6 and len(_table(out)) == 6


def test_points_record_their_code_and_a_resume_counts_other_code(tmp_path, monkeypatch):
    """Each point records the code that computed it; resuming with other code reuses the
    stored points but says how many came from other code (an edited experiment is never
    silently judged by the old one's results)."""
    import validate.sweep as sweep_module

    out, params = tmp_path / "sweep", {"log": str(tmp_path / "log.txt")}
    first = run_sweep(sweep_targets.counted, {"x": [0, 1]}, replicates=2, params=params,
                      out_dir=out, executor="serial", seed=3)
    here = code_identity()
    assert here.startswith("learndyn ") and first.code == here
    assert first.reused_other_code == 0
    assert {r["code"] for r in load_points(out)} == {here}
    assert json.loads((out / "manifest.json").read_text())["code"] == {here: 4}
    same = run_sweep(sweep_targets.counted, {"x": [0, 1]}, replicates=2, params=params,
                     out_dir=out, executor="serial", seed=3)
    assert (same.reused, same.reused_other_code) == (4, 0)

    monkeypatch.setattr(sweep_module, "code_identity", lambda: "learndyn 9.9 @ edited")
    more = run_sweep(sweep_targets.counted, {"x": [0, 1]}, replicates=3, params=params,
                     out_dir=out, executor="serial", seed=3)
    assert (more.computed, more.reused, more.reused_other_code) == (2, 4, 4)
    man = json.loads((out / "manifest.json").read_text())
    assert man["code"] == {here: 4, "learndyn 9.9 @ edited": 2}
    assert man["runs"][-1]["code"] == "learndyn 9.9 @ edited"
    assert man["runs"][-1]["reused_other_code"] == 4
    # points written before points recorded their code count as unrecorded, and as other
    assert code_counts([{}, {"code": "a"}, {"code": "a"}]) == {"a": 2, UNRECORDED_CODE: 1}


def test_cli_sweep_warns_when_it_reuses_points_of_other_code(tmp_path, monkeypatch, capsys):
    import validate.sweep as sweep_module

    out = tmp_path / "sw"
    args = ["sweep", "sweep_targets:counted", "--grid", "x=0,1", "--param",
            f"log={tmp_path / 'log.txt'}", "--executor", "serial", "--out", str(out),
            "--quiet"]
    assert main(args) == 0
    assert "other code" not in capsys.readouterr().err
    monkeypatch.setattr(sweep_module, "code_identity", lambda: "learndyn 9.9 @ edited")
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "warning: 2 of the 2 reused points were computed by other code" in err
    assert "learndyn 9.9 @ edited" in err and str(out) in err


@pytest.mark.parametrize("executor, signum", [("serial", signal.SIGINT),
                                               ("process", signal.SIGINT),
                                               ("serial", signal.SIGTERM)],
                         ids=["sigint-serial", "sigint-process", "sigterm-serial"])
def test_sigint_midway_then_resume_recomputes_only_missing(tmp_path, executor, signum):
    out, log = tmp_path / "sweep", tmp_path / "log.txt"
    argv = ["sweep", "sweep_targets:counted", "--grid", "x=" + ",".join(map(str, range(10))),
            "--replicates", "2", "--param", "delay=0.3", "--param", f"log={log}",
            "--executor", executor, "--workers", "2", "--out", str(out), "--quiet"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get(
        "PYTHONPATH", "")]), "LEARNDYN_QUIET": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "validate.cli", *argv], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if len(list((out / "points").glob("*.json"))) >= 4:
            break
        time.sleep(0.02)
    seen = len(list((out / "points").glob("*.json")))
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (f"exit {proc.returncode}; {seen} of 20 points were "
                                    f"written when the signal was sent; stderr: {err}")
    assert "Re-run the same command" in err
    man = json.loads((out / "manifest.json").read_text())
    assert man["state"] == "interrupted"
    done = {p["id"] for p in man["points"] if p["status"] == "ok"}
    assert done == {p["id"] for p in man["points"] if store.read_point(out / "points", p["id"])}
    assert 4 <= len(done) < 20
    assert len(_table(out)) == len(done)
    mtimes = {p: (out / "points" / f"{p}.json").stat().st_mtime_ns for p in done}
    key_of = {p["id"]: f"{p['params']['x']},{p['spawn_key'][0]}-{p['spawn_key'][1]}"
              for p in man["points"]}

    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    assert main(argv) == 0  # the same command again, in-process
    man = json.loads((out / "manifest.json").read_text())
    assert man["state"] == "complete" and man["counts"]["ok"] == 20
    assert man["runs"][-1]["computed"] == 20 - len(done)
    assert man["runs"][-1]["reused"] == len(done)
    starts = _log(log)
    assert set(starts) == set(key_of.values())  # every point ran
    for pid in done:  # finished before the interrupt: never recomputed
        assert starts[key_of[pid]] == 1
        assert (out / "points" / f"{pid}.json").stat().st_mtime_ns == mtimes[pid]
    assert max(starts.values()) <= 2  # at most the points in flight at SIGINT ran twice
    rows = _table(out)
    assert len(rows) == 20 and len({r["point"] for r in rows}) == 20


def test_killed_worker_process_then_resume(tmp_path):
    log, flag, out = tmp_path / "log.txt", tmp_path / "DIE", tmp_path / "sweep"
    flag.touch()
    params = {"log": str(log), "die_flag": str(flag), "die_x": "7", "delay": 0.05}
    grid = {"x": list(range(8))}
    with pytest.raises(WorkerLost, match="worker process died"):
        run_sweep(sweep_targets.counted, grid, params=params, out_dir=out, executor="process",
                  workers=2)
    man = json.loads((out / "manifest.json").read_text())
    assert man["state"] == "interrupted"
    done = {p["id"] for p in man["points"] if p["status"] == "ok"}
    assert 1 <= len(done) < 8 and len(_table(out)) == len(done)
    flag.unlink()
    again = run_sweep(sweep_targets.counted, grid, params=params, out_dir=out,
                      executor="process", workers=2)
    assert (again.computed, again.reused, again.ok) == (8 - len(done), len(done), 8)
    key = {p["id"]: f"{p['params']['x']},{p['spawn_key'][0]}-{p['spawn_key'][1]}"
           for p in man["points"]}
    starts = _log(log)
    assert all(starts[key[p]] == 1 for p in done)
    assert len(_table(out)) == 8


_finite = st.floats(allow_nan=False, allow_infinity=True, width=64)
_scalar = st.one_of(st.integers(-2**62, 2**62), _finite, st.booleans(),
                    st.text(max_size=8))
_name = st.text("abcdefgh_", min_size=1, max_size=6)


@settings(max_examples=25)
@given(scalars=st.dictionaries(_name, _scalar, max_size=5),
       arrays=st.dictionaries(_name.map(lambda s: "arr_" + s),
                              st.lists(_finite, min_size=1, max_size=6), max_size=3))
def test_point_store_round_trip_is_exact(tmp_path_factory, scalars, arrays):
    folder = tmp_path_factory.mktemp("pts")
    s, a = store.split_outputs({**scalars, **arrays})
    assert s == scalars and set(a) == set(arrays)
    store.write_point(folder, {"id": "p", "status": "ok", "scalars": s}, a)
    rec = store.read_point(folder, "p")
    assert rec is not None and rec["scalars"] == scalars
    back = store.load_arrays(folder, "p")
    for k, v in arrays.items():
        assert back[k].tobytes() == np.asarray(v).tobytes()
    for v in scalars.values():  # the CSV text of a float reads back to the same float
        if isinstance(v, float):
            assert float(store.format_cell(v)) == v


@settings(max_examples=30)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), st.integers(1, 3),
       st.integers(0, 2**32))
def test_plan_covers_grid_times_replicates_once(sizes, replicates, seed):
    grid = {f"p{i}": list(range(n)) for i, n in enumerate(sizes)}
    tasks = plan(sweep_targets.counted, grid, replicates=replicates, seed=seed,
                 params={"log": "-"})
    assert len(tasks) == int(np.prod(sizes)) * replicates
    assert len({t.id for t in tasks}) == len(tasks)
    assert [(t.index, t.replicate) for t in tasks] == sorted((t.index, t.replicate)
                                                             for t in tasks)
    assert {t.spawn_key for t in tasks} == {(i, r) for i in range(int(np.prod(sizes)))
                                            for r in range(replicates)}


def test_point_id_hashes_every_part_of_the_computation():
    base = dict(target="t", params={"x": 1, "y": "a"}, replicate=0, entropy=5, spawn_key=(0, 1),
                quick=False)
    ref = store.point_id(**base)
    assert store.point_id(**{**base, "params": {"y": "a", "x": 1}}) == ref  # order-free
    for change in ({"target": "u"}, {"params": {"x": 2, "y": "a"}},
                   {"params": {"x": 1, "y": "b"}}, {"params": {"x": 1}}, {"replicate": 1},
                   {"entropy": 6}, {"spawn_key": (1, 0)}, {"quick": True}):
        assert store.point_id(**{**base, **change}) != ref, change


def test_grid_values_changed_in_place_reuse_nothing_stale(tmp_path):
    """The same grid shape with a value replaced (x = 1 -> 5 at the same index, so the same
    seeds): with --force, the points at the new value are computed, never read back from
    the old value's files; every stored record holds its own parameters' result."""
    out, log = tmp_path / "sweep", tmp_path / "log.txt"
    params = {"log": str(log)}
    grid = {"x": [0, 1]}
    run_sweep(sweep_targets.counted, grid, replicates=2, params=params, out_dir=out,
              executor="serial", seed=3)
    grid["x"][1] = 5  # the caller's list changes in place
    res = run_sweep(sweep_targets.counted, grid, replicates=2, params=params, out_dir=out,
                    executor="serial", seed=3, force=True)
    assert (res.reused, res.computed) == (2, 2)
    assert _log(log)["5,1-0"] == 1 and _log(log)["5,1-1"] == 1
    recs = load_points(out)
    assert sorted(r["params"]["x"] for r in recs) == [0, 0, 5, 5]
    for r in recs:
        assert r["scalars"]["x_squared"] == r["params"]["x"] ** 2
    assert {row["x"] for row in _table(out)} == {"0", "5"}
    assert len(list((out / "points").glob("*.json"))) == 4


def test_experiment_seed_is_the_documented_63_bit_integer():
    """An experiment point's integer seed is ``generate_state(1, uint64) >> 1`` of its spawned
    SeedSequence (module docstring), so a reported seed reruns the same point."""
    tasks = plan("lms", {"dim": [3]}, replicates=2, seed=5, quick=True)
    for t in tasks:
        ss = np.random.SeedSequence(5).spawn(1)[t.index].spawn(2)[t.replicate]
        assert t.int_seed() == int(ss.generate_state(1, np.uint64)[0]) >> 1
        assert 0 <= t.int_seed() < 2**63


def test_a_changed_npz_is_detected_even_when_it_still_loads(tmp_path):
    """The record carries the NPZ's SHA-256: arrays replaced by others of the same names and
    shapes (a file that loads fine) make the point count as missing, not as stored."""
    folder = tmp_path / "points"
    store.write_point(folder, {"id": "p1", "status": "ok", "scalars": {}},
                      {"a": np.arange(4.0)})
    assert store.read_point(folder, "p1") is not None
    np.savez(folder / "p1.npz", a=np.arange(4.0) + 1)
    assert store.read_point(folder, "p1") is None


def test_booleans_stay_booleans_through_the_store(tmp_path):
    """A verdict (``passed``) is stored as a JSON boolean, not as 1/0: the table and reports
    read ``true``/``false``."""
    assert store.to_plain({"a": np.bool_(True), "b": [False]}) == {"a": True, "b": [False]}
    assert type(store.to_plain(np.bool_(True))) is bool
    folder = tmp_path / "points"
    store.write_point(folder, {"id": "p", "status": "ok", "scalars": {"passed": True}}, {})
    rec = store.read_point(folder, "p")
    assert rec["scalars"]["passed"] is True
    assert '"passed": true' in (folder / "p.json").read_text()
