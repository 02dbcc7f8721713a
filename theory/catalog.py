"""Catalog of the models whose derivations ``learndyn latex MODEL`` prints.

A theory module describes its math as a :class:`theory.latex.LatexModel` and registers the
function building it with :func:`theory.latex.register_latex`, which calls
:func:`register_model` here with ``spec`` (the builder) and a function printing it.
:func:`models` imports every module of the ``theory`` package once, so new models appear
without editing a central list.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["ModelEntry", "register_model", "models", "get_model"]


@dataclass(frozen=True)
class ModelEntry:
    name: str
    description: str
    latex: Callable[[], str]
    #: builds the model's :class:`theory.latex.LatexModel` (None for raw-LaTeX entries)
    spec: Callable[[], object] | None = None


_MODELS: dict[str, ModelEntry] = {}


def register_model(name: str, description: str, *, spec: Callable[[], object] | None = None):
    """Decorator: register ``fn() -> str`` (LaTeX) under ``name`` (``spec``: see ModelEntry)."""

    def deco(fn):
        if name in _MODELS and _MODELS[name].latex is not fn:
            raise ValueError(f"model {name!r} registered twice")
        _MODELS[name] = ModelEntry(name, description, fn, spec)
        return fn

    return deco


def _discover() -> None:
    import theory

    for mod in pkgutil.iter_modules(theory.__path__):
        if not mod.name.startswith("_"):
            importlib.import_module(f"theory.{mod.name}")


def models() -> dict[str, ModelEntry]:
    """All registered models, by name (sorted)."""
    _discover()
    return dict(sorted(_MODELS.items()))


def get_model(name: str) -> ModelEntry:
    """The model called ``name``; ``KeyError`` lists the known names."""
    all_models = models()
    if name not in all_models:
        raise KeyError(f"unknown model {name!r}; known models: {', '.join(all_models)}")
    return all_models[name]
