"""Integrate compiled right-hand sides with SciPy's ``solve_ivp``; results as ``Trajectory``.

A diverging solution stops the integration with :class:`DivergenceError`, which says at
what time, in which state component and why (a NaN/inf, or a state beyond ``blowup``),
instead of handing back a wall of NaN.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.integrate import solve_ivp

__all__ = ["Trajectory", "DivergenceError", "integrate"]


class DivergenceError(RuntimeError):
    """An integration or simulation left the finite, bounded region; ``t`` says where."""

    def __init__(self, message: str, t: float, component: int | None = None):
        super().__init__(message)
        self.t = t
        self.component = component


@dataclass(frozen=True)
class Trajectory:
    """An ODE solution: times ``t`` (m,), states ``y`` (n_state, m), and solver statistics.

    ``state_names`` gives the meaning of each row of ``y`` (the order of the compiled
    right-hand side); without names given they are ``y0, y1, ...``, made on demand.
    """

    t: np.ndarray
    y: np.ndarray
    state_names: Sequence[str]
    method: str
    nfev: int
    njev: int
    nlu: int
    message: str
    rtol: float
    atol: float
    stats: dict = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        """The time series of the state component called ``name``."""
        try:
            return self.y[self.state_names.index(name)]
        except ValueError:
            raise KeyError(f"no state called {name!r}; states are {self.state_names}") from None

    def to_dict(self) -> dict:
        return {
            "t": self.t.tolist(),
            "y": self.y.tolist(),
            "state_names": list(self.state_names),
            "method": self.method,
            "nfev": self.nfev,
            "njev": self.njev,
            "nlu": self.nlu,
            "message": self.message,
            "rtol": self.rtol,
            "atol": self.atol,
        }


class _DefaultNames(Sequence):
    """The names ``y0, y1, ...`` made on demand: a state of 16 million components (a 4096 x
    4096 covariance) should not cost 16 million strings."""

    def __init__(self, n: int):
        self._n = int(n)

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, k):
        if isinstance(k, slice):
            return tuple(self[i] for i in range(*k.indices(self._n)))
        k = range(self._n)[k]
        return f"y{k}"

    def index(self, name, *args) -> int:
        if isinstance(name, str) and name[:1] == "y" and name[1:].isdigit():
            k = int(name[1:])
            if k < self._n and name == f"y{k}":
                return k
        raise ValueError(f"{name!r} is not a state name")

    def __eq__(self, other) -> bool:
        return tuple(self) == tuple(other)

    def __repr__(self) -> str:
        return f"('y0', ..., 'y{self._n - 1}')"


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _names(symbols) -> str:
    shown = ", ".join(map(str, symbols[:8]))
    return shown + (", ..." if len(symbols) > 8 else "")


def _check_against_rhs(rhs, y0: np.ndarray, args: tuple) -> None:
    """For a right-hand side from :func:`numerics.compile.compile_rhs`: ``y0`` has one entry per
    state and ``args`` is ``(p,)`` with one value per parameter; errors name both orders."""
    state = getattr(rhs, "state_symbols", None)
    params = getattr(rhs, "param_symbols", None)
    if state is not None and y0.size != len(state):
        raise ValueError(f"y0 has {_count(y0.size, 'entry', 'entries')} but the right-hand "
                         f"side has {_count(len(state), 'state', 'states')} ({_names(state)})")
    if params is None:
        return
    if not isinstance(args, tuple):
        raise TypeError(f"args must be a tuple (p,), got {type(args).__name__}")
    if len(params) == 0:
        if args and np.size(args[0]) != 0 or len(args) > 1:
            raise ValueError(f"the right-hand side has no parameters, but args={args!r}")
        return
    if len(args) != 1:
        raise ValueError(f"args must be (p,) with p the values of the "
                         f"{_count(len(params), 'parameter', 'parameters')} ({_names(params)}), "
                         f"got {_count(len(args), 'argument', 'arguments')}")
    try:
        p = np.atleast_1d(np.asarray(args[0], dtype=float))
    except (TypeError, ValueError):
        raise TypeError(f"args[0] must hold numbers for the parameters ({_names(params)}), got "
                        f"{args[0]!r}") from None
    if p.shape[0] != len(params):
        raise ValueError(f"args[0] has {_count(p.shape[0], 'value', 'values')} but the "
                         f"right-hand side has {_count(len(params), 'parameter', 'parameters')} "
                         f"({_names(params)})")


def integrate(
    rhs: Callable,
    t_span: tuple[float, float],
    y0: Sequence[float] | np.ndarray,
    *,
    args: tuple = (),
    t_eval: np.ndarray | None = None,
    method: str = "LSODA",
    rtol: float = 1e-8,
    atol: float = 1e-10,
    blowup: float = 1e12,
    state_names: Sequence[str] | None = None,
    progress: bool = False,
    events=None,
) -> Trajectory:
    """Solve ``dy/dt = rhs(t, y, *args)`` on ``t_span`` and return a :class:`Trajectory`.

    Raises :class:`DivergenceError` if a state becomes NaN/inf or exceeds ``blowup`` in
    absolute value, naming the time and the component.  ``y0`` and ``args`` are checked
    before any work: against the state and parameter orders of a right-hand side from
    :func:`numerics.compile.compile_rhs` (errors name them), and for any ``rhs`` by one
    evaluation at the start.  ``progress=True`` shows a tqdm
    bar over simulated time.
    """
    y0 = np.asarray(y0, dtype=float)
    if y0.ndim != 1:
        raise ValueError(f"y0 must be one-dimensional, got shape {y0.shape}")
    if not np.all(np.isfinite(y0)):
        raise ValueError("y0 contains NaN or inf")
    t0, t1 = map(float, t_span)
    if not np.isfinite(t0) or not np.isfinite(t1) or t1 <= t0:
        raise ValueError(f"t_span must be finite with t_span[1] > t_span[0], got {t_span}")
    if not (rtol > 0 and atol > 0):
        raise ValueError(f"rtol and atol must be positive, got rtol={rtol}, atol={atol}")
    _check_against_rhs(rhs, y0, args)
    names = _DefaultNames(y0.size) if state_names is None else tuple(state_names)
    if len(names) != y0.size:
        raise ValueError(f"state_names has {len(names)} entries but y0 has {y0.size}")
    try:
        dy0 = np.asarray(rhs(t0, y0, *args), dtype=float)
    except (TypeError, ValueError, IndexError) as err:
        kind = TypeError if isinstance(err, TypeError) else ValueError
        raise kind(f"rhs(t, y0, *args) fails at the start ({err}); check that y0 has one "
                   f"entry per state ({_count(y0.size, 'entry', 'entries')} given) and args "
                   f"the parameters ({_count(len(args), 'argument', 'arguments')} given)") from err
    if dy0.shape != y0.shape:
        raise ValueError(f"rhs returns shape {dy0.shape} for y0 of shape {y0.shape}: y0 must "
                         "have one entry per state of the right-hand side")

    bar = None
    if progress:
        from numerics.progress import progress_bar

        bar = progress_bar(total=t1 - t0, desc="integrate", unit="t")
    last = [t0]

    def wrapped(t, y):
        dy = np.asarray(rhs(t, y, *args), dtype=float)
        if not np.all(np.isfinite(dy)):
            k = int(np.flatnonzero(~np.isfinite(dy))[0])
            raise DivergenceError(
                f"right-hand side is not finite at t={t:.6g} (component {names[k]}); "
                "the solution is diverging or the parameters are outside the model's range",
                t, k)
        if bar is not None and t > last[0]:
            bar.update(t - last[0])
            last[0] = t
        return dy

    def blow(t, y):
        return blowup - np.max(np.abs(y))

    blow.terminal = True
    all_events = [blow] + (list(events) if events is not None else [])
    try:
        sol = solve_ivp(wrapped, (t0, t1), y0, method=method, t_eval=t_eval, rtol=rtol,
                        atol=atol, events=all_events)
    finally:
        if bar is not None:
            bar.close()
    if sol.t_events[0].size:
        tb = float(sol.t_events[0][0])
        yb = sol.y_events[0][0]
        k = int(np.argmax(np.abs(yb)))
        raise DivergenceError(
            f"solution exceeded |y| = {blowup:g} at t={tb:.6g} in component {names[k]}: "
            "the flow diverges (unstable parameters or a finite-time blow-up)", tb, k)
    if not sol.success:
        raise DivergenceError(f"solve_ivp failed at t={sol.t[-1]:.6g}: {sol.message}",
                              float(sol.t[-1]))
    stats = {}
    if events is not None:
        stats["t_events"] = [te.tolist() for te in sol.t_events[1:]]
    return Trajectory(t=sol.t, y=sol.y, state_names=names, method=method, nfev=int(sol.nfev),
                      njev=int(sol.njev), nlu=int(sol.nlu), message=str(sol.message),
                      rtol=rtol, atol=atol, stats=stats)
