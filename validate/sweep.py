"""Parameter sweeps: any experiment or simulation function over a grid x replicate seeds.

A *target* is either a registered experiment (``"lms"`` or ``"experiment:lms"``; each point
runs ``run_experiment(name, RunConfig(params=..., seed=...))``) or a simulation function
``f(params: dict, seed: numpy.random.SeedSequence) -> dict`` of scalars and arrays, given as a
callable or as ``"package.module:function"`` (imported, never evaluated).

Seeding (the same numbers on every executor)::

    root = SeedSequence(seed)
    point_seed[i, r] = root.spawn(n_grid)[i].spawn(replicates)[r]

for grid point ``i`` in :func:`grid_points` order (first grid axis slowest) and replicate
``r``.  A child's stream depends only on ``(seed, i, r)``, so adding replicates or appending
values to the first grid axis keeps every existing point.  Experiments, whose
``RunConfig.seed`` is an int, get the 63-bit integer ``point_seed.generate_state(1, uint64) >> 1``.

Storage (``out_dir``)::

    manifest.json        sweep definition, grid, seeds, versions, per-point status and timings
    table.csv            tidy table: one row per grid point x replicate (parameters, status,
                         scalar outputs), sorted by (index, replicate)
    points/<id>.json     one record per finished point (validate.store), written atomically
    points/<id>.npz      its arrays (np.savez; load with allow_pickle=False)

A point's id hashes its target, parameters, replicate and seed (:func:`validate.store.point_id`).
Re-running a sweep into the same folder loads every intact point and computes only the
missing ones, plus those that raised (``retry_errors=True``); a corrupted point file fails its
checksum and is recomputed.  Every point records the code that computed it
(:func:`code_identity`: the learndyn version and, from a checkout, the git commit), so a
resumed sweep says how many of the points it reuses came from other code (its result's
``reused_other_code``; the command line warns): an edited experiment is never silently
judged by results of the old one.  A worker exception is stored with its traceback against its
point (status ``error``) and does not stop the others.  A folder that holds a *different*
sweep (other target, seed, fixed parameters, quick flag or grid) is refused with
:class:`SweepMismatchError` unless ``force=True``, which starts a new run history there and
removes the point files that do not belong to the new sweep.  A changed replicate count is
the same sweep (replicate ``r``'s seed does not depend on how many there are): more
replicates extend it.

Experiment targets have declared parameters (:mod:`validate.params`): every fixed parameter
and every grid value is parsed and checked before anything is computed or any folder is
made, so ``--grid dim=5.7`` is refused for an integer parameter rather than run as 5.
A ``module:function`` target is imported (never evaluated) at planning time too.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as _dt
import importlib
import io
import itertools
import os
import socket
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from validate import store
from validate.errors import InputError
from validate.executors import make_executor

__all__ = ["SweepMismatchError", "PointTask", "SweepResult", "resolve_target", "grid_points",
           "point_seeds", "plan", "run_point", "run_sweep", "collect", "load_points",
           "experiment_outputs", "MANIFEST_FORMAT"]

MANIFEST_FORMAT = "learndyn-sweep/1"
RESERVED = ("point", "index", "replicate", "status", "error")
_SCALAR_TYPES = (bool, int, float, str)


class SweepMismatchError(InputError):
    """The output folder already holds a different sweep."""


@dataclass(frozen=True)
class PointTask:
    """Everything a worker needs to compute one point (small, picklable, no arrays)."""

    id: str
    index: int
    replicate: int
    params: Mapping[str, object]
    entropy: int
    spawn_key: tuple[int, ...]
    target: str
    kind: str  # "experiment" or "function"
    quick: bool = False
    func: Callable | None = None

    def seed_sequence(self) -> np.random.SeedSequence:
        return np.random.SeedSequence(self.entropy, spawn_key=self.spawn_key)

    def int_seed(self) -> int:
        """The 63-bit integer seed handed to experiments (``RunConfig.seed`` is an int)."""
        return int(self.seed_sequence().generate_state(1, np.uint64)[0] >> np.uint64(1))


@dataclass(frozen=True)
class SweepResult:
    """Summary of one :func:`run_sweep` call."""

    out_dir: Path
    n_points: int
    computed: int
    reused: int
    ok: int
    errors: int
    missing: int
    wall_s: float
    state: str
    code: str = ""
    reused_other_code: int = 0

    @property
    def manifest(self) -> Path:
        return self.out_dir / "manifest.json"

    @property
    def table(self) -> Path:
        return self.out_dir / "table.csv"

    def to_dict(self) -> dict:
        return {"out_dir": str(self.out_dir), "n_points": self.n_points,
                "computed": self.computed, "reused": self.reused, "ok": self.ok,
                "errors": self.errors, "missing": self.missing, "wall_s": self.wall_s,
                "state": self.state, "code": self.code,
                "reused_other_code": self.reused_other_code}


# ---------------------------------------------------------------------------- targets


def _import_function(spec: str) -> Callable:
    module, _, attr = spec.partition(":")
    if not module or not attr:
        raise ValueError("a function target must look like 'package.module:function', "
                         f"got {spec!r}")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if not callable(obj):
        raise TypeError(f"{spec!r} is not callable")
    return obj


def resolve_target(target) -> tuple[str, str, Callable | None]:
    """``(name, kind, func)`` of a target: an experiment name, ``module:function``, a callable."""
    if callable(target):
        mod = getattr(target, "__module__", None)
        qual = getattr(target, "__qualname__", None)
        if not mod or not qual:
            raise TypeError(f"sweep target {target!r} has no __module__/__qualname__")
        return f"{mod}:{qual}", "function", target
    if not isinstance(target, str) or not target:
        raise TypeError(f"target must be an experiment name, 'module:function' or a callable, "
                        f"got {target!r}")
    if target.startswith("experiment:"):
        target = target.split(":", 1)[1]
    elif ":" in target:
        return target, "function", None
    from validate.registry import get_experiment

    get_experiment(target)  # KeyError naming the known experiments
    return f"experiment:{target}", "experiment", None


def experiment_outputs(result) -> dict:
    """Scalars and arrays of an :class:`~validate.registry.ExperimentResult` for the table.

    ``passed``; per comparison ``cmp<i>.{name,kind,max_abs_z,bound,level,rel_err,passed}``
    and the arrays ``cmp<i>.{x,theory,mean,sem,z}``; ``extra.*`` for the storable parts of
    ``result.extra``.  (``level`` is NaN for a tolerance check.)
    """
    out: dict = {"passed": bool(result.passed), "n_comparisons": len(result.comparisons)}
    for i, c in enumerate(result.comparisons):
        out[f"cmp{i}"] = {"name": c.name, "kind": c.kind, "max_abs_z": c.max_abs_z,
                          "bound": c.bound, "level": float("nan") if c.level is None
                          else c.level, "rel_err": c.rel_err, "passed": c.passed, "x": c.x,
                          "theory": c.theory, "mean": c.mean, "sem": c.sem,
                          "z": np.nan_to_num(c.z, posinf=1e300, neginf=-1e300)}
    extra = {}
    for k, v in dict(result.extra).items():
        try:
            store.split_outputs({k: v})
        except (TypeError, ValueError):
            continue  # not a number, string or numeric array: not part of the table
        extra[k] = v
    if extra:
        out["extra"] = extra
    return out


# ---------------------------------------------------------------------------- planning


def _check_grid(grid) -> list[tuple[str, list]]:
    items = list(grid.items()) if isinstance(grid, Mapping) else list(grid)
    out = []
    seen = set()
    for item in items:
        if not (isinstance(item, tuple) and len(item) == 2):
            raise TypeError(f"grid must map parameter names to lists of values, got {item!r}")
        name, values = item
        if not isinstance(name, str) or not name or name in seen:
            raise ValueError(f"grid parameter names must be unique non-empty strings, got {name!r}")
        if name in RESERVED:
            raise ValueError(f"grid parameter name {name!r} is reserved ({', '.join(RESERVED)})")
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence | np.ndarray):
            raise TypeError(f"grid[{name!r}] must be a list of values, got {values!r}")
        values = [store.to_plain(v) for v in values]
        if not values:
            raise ValueError(f"grid[{name!r}] must hold at least one value")
        for v in values:
            if not isinstance(v, _SCALAR_TYPES):
                raise TypeError(f"grid[{name!r}] values must be numbers, strings or booleans, "
                                f"got {v!r}")
        if len({store.canonical_json(v) for v in values}) != len(values):
            raise ValueError(f"grid[{name!r}] has repeated values: {values}")
        seen.add(name)
        out.append((name, values))
    return out


def grid_points(grid) -> list[dict]:
    """The grid's points as parameter dicts, first axis slowest (``itertools.product``)."""
    axes = _check_grid(grid)
    names = [n for n, _ in axes]
    return [dict(zip(names, combo)) for combo in itertools.product(*(v for _, v in axes))]


def point_seeds(seed, n_grid: int, replicates: int) -> list[list[np.random.SeedSequence]]:
    """``SeedSequence(seed).spawn(n_grid)[i].spawn(replicates)[r]`` as a nested list."""
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return [child.spawn(replicates) for child in root.spawn(n_grid)]


def plan(target, grid, *, replicates: int = 1, seed: int = 0, params=None,
         quick: bool = False) -> list[PointTask]:
    """The tasks of a sweep in grid order (index, then replicate)."""
    from numerics.checks import as_int

    name, kind, func = resolve_target(target)
    replicates = as_int(replicates, "replicates", 1)
    seed = as_int(seed, "seed", 0)
    fixed = store.to_plain(dict(params or {}))
    points = grid_points(grid)
    clash = set(fixed) & set(points[0])
    if clash:
        raise ValueError(f"parameters {sorted(clash)} are both fixed (params) and swept (grid)")
    if kind == "experiment":
        from validate.registry import resolve_params

        for p in points:  # every value typed and in range, every combination allowed
            resolve_params(name.split(":", 1)[1], {**fixed, **p}, quick)
    elif func is None:
        _import_function(name)  # ImportError/ValueError now, not in every worker
    seeds = point_seeds(seed, len(points), replicates)
    tasks = []
    for i, p in enumerate(points):
        full = {**fixed, **p}
        for r in range(replicates):
            ss = seeds[i][r]
            pid = store.point_id(name, full, r, ss.entropy, ss.spawn_key, quick)
            tasks.append(PointTask(pid, i, r, full, int(ss.entropy), tuple(ss.spawn_key), name,
                                   kind, bool(quick), func))
    return tasks


# ---------------------------------------------------------------------------- the worker


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds")


def run_point(task: PointTask) -> dict:
    """Compute one point; exceptions become ``status="error"`` with their traceback.

    Module-level (importable by spawned processes and Dask workers).  Returns a plain dict:
    ``id, status, scalars, arrays, error, elapsed_s, started, finished, worker``.
    """
    started = _now()
    t0 = time.perf_counter()
    scalars: dict = {}
    arrays: dict = {}
    error = None
    try:
        if task.kind == "experiment":
            from validate.registry import RunConfig, run_experiment

            config = RunConfig(quick=task.quick, seed=task.int_seed(), params=dict(task.params),
                               progress=False, figures=False)
            outputs = experiment_outputs(run_experiment(task.target.split(":", 1)[1], config))
        else:
            fn = task.func if task.func is not None else _import_function(task.target)
            outputs = fn(dict(task.params), task.seed_sequence())
        scalars, arrays = store.split_outputs(outputs)
        status = "ok"
    except Exception as err:  # noqa: BLE001 - recorded against the point, others go on
        status = "error"
        scalars, arrays = {}, {}
        error = {"type": type(err).__name__, "message": str(err),
                 "traceback": traceback.format_exc()}
    return {"id": task.id, "status": status, "scalars": scalars, "arrays": arrays,
            "error": error, "elapsed_s": time.perf_counter() - t0, "started": started,
            "finished": _now(), "worker": f"{socket.gethostname()}:{os.getpid()}"}


# ---------------------------------------------------------------------------- manifest


def _definition(tasks: list[PointTask], grid, replicates, seed, params, quick) -> dict:
    axes = _check_grid(grid)
    return {"format": MANIFEST_FORMAT, "target": tasks[0].target, "kind": tasks[0].kind,
            "fixed_params": store.to_plain(dict(params or {})), "seed": int(seed),
            "entropy": int(tasks[0].entropy), "quick": bool(quick),
            "grid": {n: v for n, v in axes}, "grid_order": [n for n, _ in axes],
            "replicates": int(replicates), "n_grid_points": len(tasks) // int(replicates),
            "n_points": len(tasks),
            "seeding": "SeedSequence(seed).spawn(n_grid_points)[index].spawn(replicates)"
                       "[replicate]; index in grid order, first grid axis slowest"}


_IDENTITY_KEYS = ("target", "kind", "fixed_params", "seed", "quick", "grid", "grid_order")


def _read_manifest(out_dir: Path) -> dict | None:
    import json

    path = out_dir / "manifest.json"
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except ValueError as err:
        raise SweepMismatchError(f"{path} is not a readable sweep manifest ({err}); "
                                 "choose another output folder") from err
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise SweepMismatchError(f"{path} is not a learndyn sweep manifest; choose another "
                                 "output folder")
    return data


def _check_same_sweep(old: dict, new: dict, out_dir: Path) -> None:
    diff = [k for k in _IDENTITY_KEYS if old.get(k) != new.get(k)]
    if diff:
        detail = "; ".join(f"{k}: {old.get(k)!r} there, {new.get(k)!r} now" for k in diff
                           if k != "grid_order" or "grid" not in diff)
        raise SweepMismatchError(f"{out_dir} holds a different sweep ({detail}); use another "
                                 "--out folder, or --force to replace it (changing only "
                                 "--replicates is fine)")


def _write_manifest(out_dir: Path, definition: dict, tasks, records, executor_info: dict,
                    history: list, state: str) -> None:
    from validate.report import versions, write_json_atomic

    points = []
    counts = {"ok": 0, "error": 0, "missing": 0}
    compute = 0.0
    for t in tasks:
        rec = records.get(t.id)
        status = rec["status"] if rec else "missing"
        counts[status] += 1
        entry = {"id": t.id, "index": t.index, "replicate": t.replicate,
                 "params": dict(t.params), "spawn_key": list(t.spawn_key), "status": status}
        if rec:
            entry.update(elapsed_s=rec["elapsed_s"], finished=rec["finished"],
                         worker=rec["worker"])
            compute += rec["elapsed_s"]
        points.append(entry)
    done = counts["ok"] + counts["error"]
    manifest = dict(definition)
    manifest.update(state=state, counts=counts, code=code_counts(records.values()),
                    versions=versions(), executor=executor_info,
                    updated=_now(), runs=history,
                    timing={"compute_s_total": compute,
                            "compute_s_per_point": compute / done if done else None},
                    points=points)
    write_json_atomic(out_dir / "manifest.json", manifest)


# ---------------------------------------------------------------------------- table


def _table_text(tasks, records, grid_names) -> str:
    rows = []
    outputs: dict[str, None] = {}
    for t in tasks:
        rec = records.get(t.id)
        if rec is None:
            continue
        for k in rec["scalars"]:
            outputs.setdefault(k, None)
        rows.append((t, rec))
    taken = set(RESERVED) | set(grid_names)
    colname = {k: (f"out.{k}" if k in taken else k) for k in outputs}
    header = ["point", "index", "replicate", *grid_names, "status", *colname.values(), "error"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for t, rec in rows:
        err = rec.get("error") or {}
        msg = f"{err.get('type', '')}: {err.get('message', '')}" if err else ""
        w.writerow([t.id, t.index, t.replicate, *(store.format_cell(t.params[n])
                                                   for n in grid_names),
                    rec["status"], *(store.format_cell(rec["scalars"].get(k)) for k in outputs),
                    msg.splitlines()[0] if msg else ""])
    return buf.getvalue()


def _write_outputs(out_dir, definition, tasks, records, executor_info, history, state):
    store.atomic_write_bytes(out_dir / "table.csv",
                             _table_text(tasks, records, definition["grid_order"]).encode())
    _write_manifest(out_dir, definition, tasks, records, executor_info, history, state)


# ---------------------------------------------------------------------------- driver

#: what :func:`code_counts` calls points written before points recorded their code
UNRECORDED_CODE = "unrecorded"


def code_identity() -> str:
    """The code that computes points now: ``"learndyn VERSION"``, plus ``" @ COMMIT"`` (with
    ``+dirty`` for uncommitted changes) when it runs from a git checkout."""
    from validate import __version__
    from validate.report import git_commit

    commit = git_commit()
    return f"learndyn {__version__}" + (f" @ {commit}" if commit else "")


def code_counts(records) -> dict[str, int]:
    """How many of ``records`` (point records) each code identity computed, most first."""
    counts: dict[str, int] = {}
    for r in records:
        key = r.get("code") or UNRECORDED_CODE
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))



def _progress_disabled(progress: bool | None):
    return None if progress is None else not progress


def run_sweep(target, grid, *, replicates: int = 1, seed: int = 0, params=None,
              out_dir: str | Path = "sweep", executor: str = "process",
              workers: int | None = None, address: str | None = None, quick: bool = False,
              progress: bool | None = None, retry_errors: bool = True,
              executor_kwargs: Mapping | None = None, force: bool = False) -> SweepResult:
    """Run ``target`` over ``grid`` x ``replicates`` into ``out_dir``; resumes what is there.

    ``grid`` maps parameter names to lists of values (or is a list of such pairs);
    ``params`` are fixed parameters added to every point.  ``executor`` is ``serial``,
    ``process`` (default, ``workers`` processes, all cores if None) or ``dask`` (``address``
    of a scheduler, or a LocalCluster of ``workers`` workers).  Returns a
    :class:`SweepResult`; on Ctrl-C the finished points, the table and the manifest are
    saved before ``KeyboardInterrupt`` propagates.  ``force`` replaces a different sweep
    found in ``out_dir`` (see the module docstring).
    """
    t_start = time.perf_counter()
    tasks = plan(target, grid, replicates=replicates, seed=seed, params=params, quick=quick)
    out_dir = Path(out_dir)
    points_dir = out_dir / "points"
    definition = _definition(tasks, grid, replicates, seed, params, quick)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"out_dir {out_dir} exists and is not a folder")
    try:
        old = _read_manifest(out_dir)
        if old is not None:
            _check_same_sweep(old, definition, out_dir)
    except SweepMismatchError:
        if not force:
            raise
        old = None
        _remove_foreign_points(points_dir, {t.id for t in tasks})
    history = list(old.get("runs", [])) if old else []
    ex = make_executor(executor, workers=workers, address=address, **dict(executor_kwargs or {}))
    out_dir.mkdir(parents=True, exist_ok=True)
    store.clean_temporaries(points_dir)

    records: dict[str, dict] = {}
    todo: list[PointTask] = []
    for t in tasks:
        rec = store.read_point(points_dir, t.id)
        if rec is not None and (rec["status"] == "ok" or not retry_errors):
            records[t.id] = rec
        else:
            todo.append(t)
    reused = len(records)
    code = code_identity()
    reused_other = sum(r.get("code") != code for r in records.values())
    if todo and tasks[0].func is not None and executor == "process":
        qual = tasks[0].func.__qualname__
        if "<locals>" in qual or "<lambda>" in qual:
            raise TypeError(f"sweep function {tasks[0].target!r} is not importable by worker "
                            "processes; define it at module level (or use executor='serial')")

    run_info = {"started": _now(), "executor": ex.describe(), "to_compute": len(todo),
                "reused": reused, "code": code, "reused_other_code": reused_other}
    history.append(run_info)
    _write_outputs(out_dir, definition, tasks, records, ex.describe(), history, "running")
    by_id = {t.id: t for t in tasks}
    computed = errors_now = 0
    state = "interrupted"
    from numerics.progress import progress_bar

    bar = progress_bar(total=len(tasks), desc=f"sweep {tasks[0].target}", unit="pt",
                       disable=_progress_disabled(progress), initial=reused)
    try:
        with ex, contextlib.closing(ex.imap_unordered(run_point, todo)) as results:
            for out in results:
                t = by_id[out["id"]]
                record = {"id": t.id, "index": t.index, "replicate": t.replicate,
                          "params": dict(t.params), "target": t.target,
                          "entropy": t.entropy, "spawn_key": list(t.spawn_key),
                          "quick": t.quick, "status": out["status"], "scalars": out["scalars"],
                          "error": out["error"], "elapsed_s": out["elapsed_s"],
                          "started": out["started"], "finished": out["finished"],
                          "worker": out["worker"], "code": code}
                if t.kind == "experiment":
                    record["seed"] = t.int_seed()
                store.write_point(points_dir, record, out["arrays"])
                records[t.id] = store.read_point(points_dir, t.id) or record
                computed += 1
                errors_now += out["status"] == "error"
                bar.update(1)
                if errors_now:
                    bar.set_postfix(errors=errors_now, refresh=False)
        state = "complete"
    finally:
        bar.close()
        for t in todo:  # a point stored just before an interrupt, not yet counted above
            if t.id not in records:
                rec = store.read_point(points_dir, t.id)
                if rec is not None:
                    records[t.id] = rec
                    computed += 1
        n_err = sum(r["status"] == "error" for r in records.values())
        missing = len(tasks) - len(records)
        if state == "complete" and (n_err or missing):
            state = "incomplete"
        run_info.update(finished=_now(), computed=computed, state=state,
                        wall_s=time.perf_counter() - t_start)
        _write_outputs(out_dir, definition, tasks, records, ex.describe(), history, state)
    return SweepResult(out_dir, len(tasks), computed, reused, len(records) - n_err, n_err,
                       missing, time.perf_counter() - t_start, state, code, reused_other)


def _remove_foreign_points(points_dir: Path, keep: set[str]) -> None:
    """Delete point files (``<id>.json``/``<id>.npz``) whose id is not in ``keep``."""
    if not points_dir.is_dir():
        return
    for f in points_dir.iterdir():
        if f.suffix in (".json", ".npz") and f.stem not in keep:
            f.unlink()


# ---------------------------------------------------------------------------- reading back


def collect(out_dir: str | Path) -> SweepResult:
    """Rebuild ``table.csv`` and ``manifest.json`` of ``out_dir`` from its point files.

    For a sweep whose driver was killed hard (no chance to write the table).
    """
    out_dir = Path(out_dir)
    man = _read_manifest(out_dir)
    if man is None:
        raise FileNotFoundError(f"{out_dir} has no manifest.json (not a sweep folder)")
    target = man["target"]
    tgt = target.split(":", 1)[1] if man["kind"] == "experiment" else target
    tasks = plan(tgt, [(n, man["grid"][n]) for n in man["grid_order"]],
                 replicates=man["replicates"], seed=man["seed"], params=man["fixed_params"],
                 quick=man["quick"])
    definition = _definition(tasks, [(n, man["grid"][n]) for n in man["grid_order"]],
                             man["replicates"], man["seed"], man["fixed_params"], man["quick"])
    records = {}
    for t in tasks:
        rec = store.read_point(out_dir / "points", t.id)
        if rec is not None:
            records[t.id] = rec
    n_err = sum(r["status"] == "error" for r in records.values())
    missing = len(tasks) - len(records)
    state = "complete" if not (n_err or missing) else "incomplete"
    _write_outputs(out_dir, definition, tasks, records, man.get("executor", {}),
                   man.get("runs", []), state)
    return SweepResult(out_dir, len(tasks), 0, len(records), len(records) - n_err, n_err,
                       missing, 0.0, state)


def load_points(out_dir: str | Path, *, arrays: bool = False) -> list[dict]:
    """The intact point records of a sweep, in grid order (with ``arrays`` if asked)."""
    out_dir = Path(out_dir)
    man = _read_manifest(out_dir)
    if man is None:
        raise FileNotFoundError(f"{out_dir} has no manifest.json (not a sweep folder)")
    result = []
    for entry in man["points"]:
        rec = store.read_point(out_dir / "points", entry["id"])
        if rec is None:
            continue
        if arrays:
            rec["arrays_data"] = store.load_arrays(out_dir / "points", entry["id"])
        result.append(rec)
    return result
