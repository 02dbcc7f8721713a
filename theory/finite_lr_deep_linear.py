r"""The half-time of a deep-linear mode under gradient descent with a finite step, to first
order in the step (seed 001, Saxe et al.; modified equations, Li, Tai & E 2017).

Per layer a balanced decoupled mode steps :math:`c \leftarrow c + h\,g(c)`,
:math:`g = c^{D-1}(s - c^D)` (:func:`theory.deep_linear.layer_rate`), :math:`h = \Delta t/\tau`.
:func:`theory.finite_lr.mode_map_half_time` derives the modified drift
:math:`g - \tfrac h2g'g` and the first-order time shift
:math:`T_1 = \tfrac12\ln(g(c_{1/2})/g(c_0))`, so :math:`t_{1/2}(\Delta t) = t_{1/2}^{(0)} +
\Delta t\,T_1 + O(\Delta t^2)`.  :func:`half_time_shift` gives :math:`T_1` at any depth
(lambdified by :mod:`numerics.finite_lr_deep_linear`); the LaTeX entry prints depths 2, 3.
"""

from __future__ import annotations

import sympy as sp

from theory.deep_linear import LAYER, layer_rate
from theory.finite_lr import mode_map_half_time
from theory.latex import Equation, LatexModel, Rel, Sym, Tex, register_latex

__all__ = ["half_time_shift"]


def half_time_shift(depth: int) -> tuple[sp.Expr, sp.Symbol, sp.Symbol]:
    r"""``(T1, c0, c1)``: the derived first-order half-time coefficient in the layer values
    :math:`c_0 = a_0^{1/D}` and :math:`c_1 = (s/2)^{1/D}`."""
    mm = mode_map_half_time(layer_rate(depth), LAYER)
    return mm.T1, mm.c0, mm.c1


@register_latex("finite-lr-deep-linear", "deep linear network at a finite learning rate: "
                "modified mode equation and the first-order half-time shift T1")
def finite_lr_deep_linear_latex() -> LatexModel:
    h = sp.Symbol("h", positive=True)
    lines = []
    for D in (2, 3):
        mm = mode_map_half_time(layer_rate(D), LAYER)
        lines.append(Rel(Tex(rf"g(c)\,|_{{D={D}}}", ("g", "c")), mm.g))
        lines.append(Rel(Tex(rf"\dot c\,|_{{D={D}}}", ("c",)), sp.collect(sp.expand(
            mm.modified.subs(mm.h, h)), h)))
        lines.append(Rel(sp.Symbol(f"T1_{D}"), mm.T1))
    return LatexModel(
        title="Deep linear network at a finite learning rate: the half-time lag",
        summary=r"Gradient descent with step $\Delta t$ on a balanced decoupled mode steps each "
                r"layer by $c \leftarrow c + h\,g(c)$, $h = \Delta t/\tau$. Its modified "
                r"equation and the first-order shift of the half-time, "
                r"$t_{1/2}(\Delta t) = t_{1/2}^{(0)} + \Delta t\,T_1 + O(\Delta t^2)$, derived "
                r"by SymPy for depths $D = 2, 3$.",
        source="Saxe, McClelland and Ganguli (2014), the mode equation; Li, Tai and E (2017), "
               "modified equations",
        equations=[
            Equation(r"Rate per layer, modified equation and half-time shift "
                     r"($T_1 = \frac{1}{2}\ln\frac{g(c_1)}{g(c_0)}$):", lines),
        ],
        symbols=[
            Sym("g", "g", r"the rate $g(c) = c^{D-1}(s - c^D)$ of one layer"),
            Sym("c", "c", "the value each layer carries on the mode ($u = c^D$)"),
            Sym("s", "s", "the target singular value"),
            Sym("h", "h", r"$= \Delta t/\tau$, the step in units of the time constant",
                ),
            Sym(r"T1_(\d)", "T_{1}^{(#1)}", r"the first-order half-time shift at depth $D$: "
                r"$t_{1/2}$ grows by $\Delta t\,T_1$", generic="T_1^{(D)}"),
            Sym("c_0", "c_0", r"$= a_0^{1/D}$, the initial layer value"),
            Sym("c_1", "c_1", r"$= (s/2)^{1/D}$, the layer value at half the target"),
        ],
    )
