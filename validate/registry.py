"""Registry of experiments: each pairs theory with simulation and returns comparisons.

An experiment module in :mod:`validate.experiments` decorates ``run(config) ->
ExperimentResult`` with :func:`register_experiment`, declaring its parameters
(:mod:`validate.params`: type, range, default, quick default, meaning);
:func:`experiments` discovers all modules of that package, so adding a file adds an
experiment.  :func:`run_experiment` resolves and checks the parameters *before* the
experiment runs (a bad value raises :class:`validate.params.ParameterError` naming the
parameter and its allowed range), so ``config.params`` inside ``run`` is complete and typed.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from validate.compare import Comparison
from validate.params import Param, ParameterError, resolve

__all__ = ["RunConfig", "ExperimentResult", "Experiment", "register_experiment", "experiments",
           "get_experiment", "resolve_params", "run_experiment", "reproduce_command",
           "param_arguments"]


@dataclass(frozen=True)
class RunConfig:
    """How to run an experiment: quick mode, seed, output folder, parameter overrides.

    ``params`` holds the user's overrides (text or typed values); inside an experiment's
    ``run`` (called by :func:`run_experiment`) it holds the complete resolved parameters.
    """

    quick: bool = False
    seed: int = 0
    out_dir: Path | None = None
    params: Mapping[str, object] = field(default_factory=dict)
    progress: bool | None = None
    figures: bool = True

    def param(self, name: str, default=None):
        """The (resolved) value of parameter ``name``, else ``default``."""
        return self.params.get(name, default)


@dataclass(frozen=True)
class ExperimentResult:
    """Comparisons of one experiment run, the figures it wrote and extra measurements."""

    experiment: str
    comparisons: tuple[Comparison, ...]
    seed: int
    figures: tuple[str, ...] = ()
    params: Mapping[str, object] = field(default_factory=dict)
    extra: Mapping[str, object] = field(default_factory=dict)
    run: Mapping[str, object] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return bool(self.comparisons) and all(c.passed for c in self.comparisons)

    def to_report(self) -> dict:
        """The ``report.json`` content (see :func:`validate.report.write_report`)."""
        from validate.report import versions

        run = dict(self.run)
        return {"experiment": self.experiment, "passed": self.passed,
                "comparisons": [c.summary() for c in self.comparisons], "seed": self.seed,
                "quick": bool(run.get("quick", False)), "command": run.get("command"),
                "git_commit": run.get("git_commit"), "elapsed_s": run.get("elapsed_s"),
                "cpu_count": run.get("cpu_count"), "versions": versions(),
                "params": _plain(self.params), "overrides": _plain(run.get("overrides", {})),
                "figures": list(self.figures), "extra": dict(self.extra)}


def _plain(params) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dict(params).items()}


@dataclass(frozen=True)
class Experiment:
    """A registered experiment: its ``run`` function and declared parameters.

    ``check(params, quick)`` (optional) enforces conditions involving several parameters
    or settings the experiment cannot judge honestly; it raises ``ValueError`` saying why.
    """

    name: str
    description: str
    run: Callable[[RunConfig], ExperimentResult]
    params: Mapping[str, Param]
    check: Callable[[dict, bool], None] | None = None

    @property
    def defaults(self) -> Mapping[str, object]:
        """Parameter name -> default value (full mode)."""
        return MappingProxyType({k: p.default for k, p in self.params.items()})


_EXPERIMENTS: dict[str, Experiment] = {}


def register_experiment(name: str, description: str, params: Mapping[str, Param],
                        check: Callable[[dict, bool], None] | None = None):
    """Decorator registering ``run(config) -> ExperimentResult`` as experiment ``name``.

    ``params`` declares every parameter (:mod:`validate.params`); ``check`` optionally
    validates combinations (see :class:`Experiment`).
    """
    for k, v in dict(params).items():
        if not isinstance(v, Param):
            raise TypeError(f"experiment {name!r}: parameter {k!r} must be declared with "
                            f"validate.params (Int, Float, FloatList, ...), got {v!r}")

    def deco(fn):
        if name in _EXPERIMENTS and _EXPERIMENTS[name].run is not fn:
            raise ValueError(f"experiment {name!r} registered twice")
        _EXPERIMENTS[name] = Experiment(name, description, fn, MappingProxyType(dict(params)),
                                        check)
        return fn

    return deco


def experiments() -> dict[str, Experiment]:
    """All experiments, discovered from :mod:`validate.experiments`, sorted by name."""
    import validate.experiments as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if not mod.name.startswith("_"):
            importlib.import_module(f"validate.experiments.{mod.name}")
    return dict(sorted(_EXPERIMENTS.items()))


def get_experiment(name: str) -> Experiment:
    all_exp = experiments()
    if name not in all_exp:
        raise KeyError(f"unknown experiment {name!r}; known experiments: {', '.join(all_exp)}")
    return all_exp[name]


def resolve_params(name: str, overrides: Mapping[str, object] | None = None,
                   quick: bool = False) -> dict:
    """Complete, typed, checked parameters of experiment ``name`` (raises
    :class:`~validate.params.ParameterError` naming a bad parameter and its allowed range)."""
    exp = get_experiment(name)
    return resolve(exp.params, overrides, quick=quick, experiment=name, check=exp.check)


def reproduce_command(name: str, seed: int, quick: bool, overrides: Mapping[str, object]) -> str:
    """The ``learndyn validate`` command line that reruns this experiment."""
    import shlex

    parts = ["learndyn", "validate", name, "--seed", str(int(seed))]
    if quick:
        parts.append("--quick")
    return " ".join(shlex.quote(p) for p in parts + param_arguments(overrides))


def param_arguments(overrides: Mapping[str, object]) -> list[str]:
    """``--param NAME=VALUE`` arguments that give ``overrides`` back on the command line
    (lists comma-joined, booleans lower case)."""
    args = []
    for k, v in dict(overrides).items():
        if isinstance(v, (tuple, list)):
            v = ",".join(str(x) for x in v)
        elif isinstance(v, bool):
            v = str(v).lower()
        args += ["--param", f"{k}={v}"]
    return args


def run_experiment(name: str, config: RunConfig | None = None) -> ExperimentResult:
    """Run experiment ``name``; with ``config.out_dir`` also write ``report.json``.

    The parameters are resolved and checked first; the experiment's ``run`` sees them all,
    typed, in ``config.params``.
    """
    from dataclasses import replace

    config = config or RunConfig()
    if isinstance(config.seed, bool) or not isinstance(config.seed, int) or config.seed < 0:
        raise ParameterError(f"seed must be an integer >= 0, got {config.seed!r}")
    params = resolve_params(name, config.params, config.quick)
    exp = get_experiment(name)
    started = time.perf_counter()
    result = exp.run(replace(config, params=MappingProxyType(params)))
    elapsed = time.perf_counter() - started
    from validate.report import git_commit

    run = {"quick": bool(config.quick), "overrides": dict(config.params),
           "command": reproduce_command(name, config.seed, config.quick, config.params),
           "git_commit": git_commit(), "elapsed_s": round(elapsed, 3),
           "cpu_count": os.cpu_count()}
    result = replace(result, run=run)
    if config.out_dir is not None:
        from validate.report import write_report

        write_report(result, config.out_dir)
    return result
