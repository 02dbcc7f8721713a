"""Registry of experiments: each pairs theory with simulation and returns comparisons.

An experiment module in :mod:`validate.experiments` decorates ``run(config) ->
ExperimentResult`` with :func:`register_experiment`; :func:`experiments` discovers
all modules of that package, so adding a file adds an experiment.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from validate.compare import Comparison

__all__ = ["RunConfig", "ExperimentResult", "Experiment", "register_experiment", "experiments",
           "get_experiment", "run_experiment"]


@dataclass(frozen=True)
class RunConfig:
    """How to run an experiment: quick mode, seed, output folder, parameter overrides."""

    quick: bool = False
    seed: int = 0
    out_dir: Path | None = None
    params: Mapping[str, object] = field(default_factory=dict)
    progress: bool | None = None
    figures: bool = True

    def param(self, name: str, default):
        """The override for ``name`` (converted to the default's type), else ``default``."""
        if name not in self.params:
            return default
        value = self.params[name]
        if isinstance(default, bool):
            return bool(value)
        if isinstance(default, int) and not isinstance(default, bool):
            return int(value)
        if isinstance(default, float):
            return float(value)
        return value


@dataclass(frozen=True)
class ExperimentResult:
    """Comparisons of one experiment run, the figures it wrote and extra measurements."""

    experiment: str
    comparisons: tuple[Comparison, ...]
    seed: int
    figures: tuple[str, ...] = ()
    params: Mapping[str, object] = field(default_factory=dict)
    extra: Mapping[str, object] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return bool(self.comparisons) and all(c.passed for c in self.comparisons)

    def to_report(self) -> dict:
        from validate.report import versions

        return {"experiment": self.experiment, "passed": self.passed,
                "comparisons": [c.summary() for c in self.comparisons], "seed": self.seed,
                "versions": versions(), "params": dict(self.params),
                "figures": list(self.figures), "extra": dict(self.extra)}


@dataclass(frozen=True)
class Experiment:
    name: str
    description: str
    run: Callable[[RunConfig], ExperimentResult]
    defaults: Mapping[str, object]


_EXPERIMENTS: dict[str, Experiment] = {}


def register_experiment(name: str, description: str, defaults: Mapping[str, object] | None = None):
    """Decorator registering ``run(config) -> ExperimentResult`` as experiment ``name``."""

    def deco(fn):
        if name in _EXPERIMENTS and _EXPERIMENTS[name].run is not fn:
            raise ValueError(f"experiment {name!r} registered twice")
        _EXPERIMENTS[name] = Experiment(name, description, fn,
                                        MappingProxyType(dict(defaults or {})))
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


def run_experiment(name: str, config: RunConfig | None = None) -> ExperimentResult:
    """Run experiment ``name``; with ``config.out_dir`` also write ``report.json``."""
    config = config or RunConfig()
    exp = get_experiment(name)
    unknown = set(config.params) - set(exp.defaults)
    if unknown:
        raise ValueError(f"experiment {name!r} has no parameter(s) {sorted(unknown)}; "
                         f"its parameters are {sorted(exp.defaults)}")
    result = exp.run(config)
    if config.out_dir is not None:
        from validate.report import write_report

        write_report(result, config.out_dir)
    return result
