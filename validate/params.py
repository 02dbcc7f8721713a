"""Declared, typed experiment parameters, parsed and checked before any work is done.

An experiment declares each parameter with its type, allowed range, default, quick-mode
default and a one-line meaning::

    PARAMS = {
        "dim": Int(20, "input dimension n", min=1),
        "noise_var": Float(0.25, "teacher noise variance s^2", ge=0),
        "fractions": FloatList("0.05,0.2,0.5", "learning rates as fractions of the bound",
                               gt=0, lt=1),
        "replicas": Int(1000, "independent learners per learning rate", min=2, quick=300),
        "sigmoid": Choice("erf", ("erf", "logistic"), "output nonlinearity"),
    }

:func:`resolve` turns user overrides (text from the command line, or typed values from a
sweep or from Python) into a complete, typed parameter dict, applying the quick-mode
defaults, and raises :class:`ParameterError` (a ``ValueError``) whose message names the
parameter, the value given and the allowed range.  Nothing is ever ``eval``'ed: numbers are
parsed with ``int``/``float``, lists are split on commas.

List parameters resolve to tuples (``FloatList`` -> ``tuple[float, ...]``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from validate.errors import InputError

__all__ = ["ParameterError", "Param", "Int", "Float", "Bool", "Choice", "Text", "FloatList",
           "IntList", "resolve", "check_value", "describe"]

_MISSING = object()
_INT_TEXT = re.compile(r"^[+-]?\d+$")


class ParameterError(InputError):
    """A parameter value that does not fit its declaration (message names the parameter)."""


@dataclass(frozen=True)
class Param:
    """One declared parameter.

    ``kind`` is one of ``int, float, bool, choice, text, floats, ints``; bounds apply to
    numbers and to every element of a list (``ge``/``gt`` lower, ``le``/``lt`` upper).
    ``quick`` is the value used in quick mode when the user did not set the parameter.
    """

    kind: str
    default: object
    help: str
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    choices: tuple[str, ...] = ()
    quick: object = _MISSING
    min_items: int = 1
    max_items: int | None = None
    unique: bool = False
    extra: Mapping[str, object] = field(default_factory=dict)

    # ---------------------------------------------------------------- description
    def range_text(self) -> str:
        """The allowed values in words, e.g. ``an integer >= 1`` or ``a number in (0, 1)``."""
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "text":
            return "text"
        noun = {"int": "an integer", "float": "a number", "ints": "integers",
                "floats": "numbers"}[self.kind]
        lo = (f"[{_fmt(self.ge)}" if self.ge is not None
              else f"({_fmt(self.gt)}" if self.gt is not None else "(-inf")
        hi = (f"{_fmt(self.le)}]" if self.le is not None
              else f"{_fmt(self.lt)})" if self.lt is not None else "inf)")
        if self.kind == "int" and self.le is None and self.lt is None and self.ge is not None:
            words = f"{noun} >= {_fmt(self.ge)}"
        elif lo == "(-inf" and hi == "inf)":
            words = f"{noun} (finite)"
        else:
            words = f"{noun} in {lo}, {hi}"
        if self.kind in ("ints", "floats"):
            n = (f"{self.min_items} or more" if self.max_items is None
                 else f"{self.min_items} to {self.max_items}")
            words = f"comma-separated {words} ({n} values{', distinct' if self.unique else ''})"
        return words

    def has_quick(self) -> bool:
        return self.quick is not _MISSING

    def value_for(self, quick: bool):
        return self.quick if (quick and self.has_quick()) else self.default

    # ---------------------------------------------------------------- parsing
    def parse(self, name: str, value):
        """The typed value of ``value`` (text or a Python value), or :class:`ParameterError`."""
        try:
            return self._parse(value)
        except _Bad as bad:
            detail = f" ({bad.args[0]})" if bad.args and bad.args[0] else ""
            raise ParameterError(f"parameter {name!r} must be {self.range_text()}, got "
                                 f"{_show(value)}{detail}") from None

    def _parse(self, value):
        if self.kind == "int":
            return self._check_number(_as_int(value))
        if self.kind == "float":
            return self._check_number(_as_float(value))
        if self.kind == "bool":
            return _as_bool(value)
        if self.kind == "choice":
            text = _as_text(value)
            if text not in self.choices:
                raise _Bad("")
            return text
        if self.kind == "text":
            return _as_text(value)
        if self.kind in ("ints", "floats"):
            items = _as_items(value)
            conv = _as_int if self.kind == "ints" else _as_float
            out = tuple(self._check_number(conv(v)) for v in items)
            if len(out) < self.min_items or (self.max_items is not None
                                            and len(out) > self.max_items):
                raise _Bad(f"{len(out)} values")
            if self.unique and len(set(out)) != len(out):
                raise _Bad("repeated values")
            return out
        raise AssertionError(f"unknown parameter kind {self.kind!r}")

    def _check_number(self, v):
        if not math.isfinite(v):
            raise _Bad("not finite")
        if self.ge is not None and not v >= self.ge:
            raise _Bad("")
        if self.gt is not None and not v > self.gt:
            raise _Bad("")
        if self.le is not None and not v <= self.le:
            raise _Bad("")
        if self.lt is not None and not v < self.lt:
            raise _Bad("")
        return v

    def default_text(self, quick: bool = False) -> str:
        v = self.value_for(quick)
        if isinstance(v, tuple):
            return ",".join(_fmt(x) for x in v)
        return str(v).lower() if isinstance(v, bool) else str(v)


class _Bad(Exception):
    pass


def _fmt(x) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def _show(value) -> str:
    return repr(value) if not isinstance(value, str) else repr(value.strip())


def _as_int(value) -> int:
    if isinstance(value, bool):
        raise _Bad("not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isfinite(value) and value == int(value):
            return int(value)
        raise _Bad("not an integer")
    if isinstance(value, str) and _INT_TEXT.match(value.strip()):
        return int(value.strip())
    try:  # numpy integers
        import numpy as np

        if isinstance(value, np.integer):
            return int(value)
    except ImportError:  # pragma: no cover
        pass
    raise _Bad("not an integer")


def _as_float(value) -> float:
    if isinstance(value, bool):
        raise _Bad("not a number")
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise _Bad("not a number") from None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _Bad("not a number") from None


def _as_bool(value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("true", "yes", "1", "on"):
            return True
        if low in ("false", "no", "0", "off"):
            return False
    raise _Bad("")


def _as_text(value) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise _Bad("not text")


def _as_items(value) -> list:
    if isinstance(value, str):
        parts = [v.strip() for v in value.replace("|", ",").split(",")]
        if any(p == "" for p in parts):
            raise _Bad("empty entry")
        return parts
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [value]
    try:
        import numpy as np

        if isinstance(value, np.ndarray) and value.ndim == 1:
            return value.tolist()
    except ImportError:  # pragma: no cover
        pass
    raise _Bad("not a list")


# ------------------------------------------------------------------------ constructors


def Int(default: int, help: str, *, min: int | None = None, max: int | None = None,
        quick=_MISSING) -> Param:
    """An integer parameter in ``[min, max]``."""
    return Param("int", default, help, ge=min, le=max, quick=quick)


def Float(default: float, help: str, *, ge=None, gt=None, le=None, lt=None,
          quick=_MISSING) -> Param:
    """A finite real parameter; bounds ``ge``/``gt`` (lower) and ``le``/``lt`` (upper)."""
    return Param("float", float(default), help, ge=ge, gt=gt, le=le, lt=lt,
                 quick=quick if quick is _MISSING else float(quick))


def Bool(default: bool, help: str, *, quick=_MISSING) -> Param:
    """true/false (also yes/no, 1/0)."""
    return Param("bool", bool(default), help, quick=quick)


def Choice(default: str, choices, help: str, *, quick=_MISSING) -> Param:
    """One of a fixed set of words."""
    return Param("choice", default, help, choices=tuple(choices), quick=quick)


def Text(default: str, help: str) -> Param:
    """Free text (file paths); never evaluated."""
    return Param("text", default, help)


def _list_default(kind, default):
    p = Param(kind, (), "")
    return p._parse(default)


def FloatList(default, help: str, *, ge=None, gt=None, le=None, lt=None, min_items: int = 1,
              max_items: int | None = None, unique: bool = True, quick=_MISSING) -> Param:
    """Comma-separated numbers (``"0.1,1.0"``), each within the bounds; a tuple of floats."""
    q = quick if quick is _MISSING else _list_default("floats", quick)
    return Param("floats", _list_default("floats", default), help, ge=ge, gt=gt, le=le, lt=lt,
                 min_items=min_items, max_items=max_items, unique=unique, quick=q)


def IntList(default, help: str, *, min: int | None = None, max: int | None = None,
            min_items: int = 1, max_items: int | None = None, unique: bool = True,
            quick=_MISSING) -> Param:
    """Comma-separated integers (``"1,2,3"``), each in ``[min, max]``; a tuple of ints."""
    q = quick if quick is _MISSING else _list_default("ints", quick)
    return Param("ints", _list_default("ints", default), help, ge=min, le=max,
                 min_items=min_items, max_items=max_items, unique=unique, quick=q)


# ------------------------------------------------------------------------ resolution


def check_value(params: Mapping[str, Param], name: str, value, experiment: str = ""):
    """Parse one value of parameter ``name``; unknown names raise :class:`ParameterError`."""
    if name not in params:
        where = f"experiment {experiment!r}" if experiment else "this experiment"
        raise ParameterError(f"{where} has no parameter {name!r}; its parameters are "
                             f"{', '.join(sorted(params))} (learndyn describe "
                             f"{experiment or 'NAME'})")
    return params[name].parse(name, value)


def resolve(params: Mapping[str, Param], overrides: Mapping[str, object] | None, *,
            quick: bool = False, experiment: str = "",
            check: Callable[[dict, bool], None] | None = None) -> dict:
    """The complete typed parameters: defaults (quick defaults in quick mode) + overrides.

    ``check(params, quick)`` may enforce conditions that involve several parameters; it
    raises ``ValueError`` (turned into :class:`ParameterError`).
    """
    overrides = dict(overrides or {})
    out = {}
    for name in overrides:
        check_value(params, name, overrides[name], experiment)  # unknown names first
    for name, spec in params.items():
        out[name] = spec.parse(name, overrides[name]) if name in overrides \
            else spec.value_for(quick)
    if check is not None:
        try:
            check(out, quick)
        except ParameterError:
            raise
        except ValueError as err:
            raise ParameterError(str(err)) from None
    return out


def describe(params: Mapping[str, Param]) -> list[dict]:
    """One row per parameter: name, type, allowed values, default, quick default, meaning."""
    rows = []
    for name, p in params.items():
        rows.append({"name": name, "kind": p.kind, "allowed": p.range_text(),
                     "default": p.default_text(False),
                     "quick": p.default_text(True) if p.has_quick() else None,
                     "help": p.help})
    return rows
