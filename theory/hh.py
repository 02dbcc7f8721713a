r"""The Hodgkin–Huxley squid-axon model (modern convention) and a kinetic synapse, in SymPy.

**Model** (Hodgkin & Huxley 1952, *J. Physiol.* 117:500, eqs. (26) and (7)-(24) of the
"summary" section; written in the modern convention — membrane potential :math:`V` in mV
measured from outside to inside, rest at :math:`-65` mV, depolarisation positive — as in
Dayan & Abbott 2001, *Theoretical Neuroscience*, §5.6, and Ermentrout & Terman 2010,
*Mathematical Foundations of Neuroscience*, §1.9):

.. math::

    C_m \dot V &= I - \bar g_{Na} m^3 h (V - E_{Na}) - \bar g_K n^4 (V - E_K) - g_L (V - E_L),\\
    \dot x &= \phi\,[\alpha_x(V)(1 - x) - \beta_x(V)\,x], \qquad x \in \{m, h, n\},

with :math:`t` in ms, currents in :math:`\mu A/cm^2`, conductances in :math:`mS/cm^2`, and

.. math::

    \alpha_m &= \frac{0.1 (V+40)}{1 - e^{-(V+40)/10}}, & \beta_m &= 4 e^{-(V+65)/18},\\
    \alpha_h &= 0.07 e^{-(V+65)/20}, & \beta_h &= \frac{1}{1 + e^{-(V+35)/10}},\\
    \alpha_n &= \frac{0.01 (V+55)}{1 - e^{-(V+55)/10}}, & \beta_n &= 0.125 e^{-(V+65)/80}

(per ms).  These are HH's eqs. (12), (13), (20), (21), (23), (24) with their voltage
:math:`v = -(V + 65)` (HH measured the displacement from rest, positive for
hyperpolarisation).

**Constants** (HH 1952, Table 3, shifted by the resting potential of -65 mV):

==========================  =====================  ===========================================
:math:`C_m`                  1 uF/cm^2              HH 1952 Table 3
:math:`\bar g_{Na}`          120 mS/cm^2            HH 1952 Table 3
:math:`\bar g_K`             36 mS/cm^2             HH 1952 Table 3
:math:`g_L`                  0.3 mS/cm^2            HH 1952 Table 3
:math:`E_{Na}`               +50 mV                 HH :math:`V_{Na} = -115` mV, i.e. -65 + 115
:math:`E_K`                  -77 mV                 HH :math:`V_K = +12` mV, i.e. -65 - 12
:math:`E_L`                  -54.387 mV             HH :math:`V_l = -10.613` mV, chosen by HH so
                                                    that the total ionic current is zero at rest
temperature                  6.3 °C                 HH 1952 (the rate constants' temperature)
:math:`Q_{10}`               3                      HH 1952 (rates scale with a Q10 of 3):
                                                    :math:`\phi = 3^{(T - 6.3)/10}`
==========================  =====================  ===========================================

**Removable singularities, handled exactly.**  With :math:`u_m = -(V+40)/10` and
:math:`u_n = -(V+55)/10`, :math:`\alpha_m = B(u_m)` and :math:`\alpha_n = B(u_n)/10` where
:math:`B(u) = u/(e^u - 1)` is the generating function of the Bernoulli numbers, so the
textbook 0/0 at :math:`V = -40` and :math:`V = -55` mV is the removable singularity of
:math:`B` at 0 (:math:`B(0) = 1`).  :func:`bernoulli_ratio` writes :math:`B` as a
Piecewise: its Taylor polynomial (derived by SymPy, degree ``TAYLOR_DEGREE``) for
:math:`|u| < ` ``TAYLOR_RADIUS``, :math:`u/\operatorname{expm1}(u)` outside.  The
truncation error is below :math:`2(r/2\pi)^{N+1} \approx 10^{-24}` and, unlike a test
``u == 0``, the Piecewise stays exact under differentiation (the Jacobian and the
higher derivatives used for the Hopf coefficient inherit it).  :func:`textbook_rates` keeps
HH's form; :func:`singular_limits` evaluates its limits with :func:`sympy.limit`; the tests
check both forms agree.

**Synapse** (first-order transmitter kinetics, Destexhe, Mainen & Sejnowski 1994,
*J. Comput. Neurosci.* 1:195, eqs. (2)-(4), AMPA values of their Table / Destexhe et al. 1998
"Kinetic models of synaptic transmission"):

.. math:: \dot s = \alpha_s T(V)(1 - s) - \beta_s s,\qquad T(V) = \frac{1}{1 + e^{-(V - V_p)/K_p}},

:math:`\alpha_s = 1.1` /ms (for :math:`T_{max} = 1` mM), :math:`\beta_s = 0.19` /ms,
:math:`V_p = 2` mV, :math:`K_p = 5` mV.  The synapse is smooth in :math:`V`, so the network
is an ODE whose Jacobian SymPy derives (the tangent-linear path).  :math:`s \in [0,1]` is
the neuron's **output** :math:`a(t)`; a synapse from neuron :math:`j` to :math:`i` adds
the current :math:`W_{ij} s_j` (current-based, :math:`W` in :math:`\mu A/cm^2`).

**Derived here**: the right-hand side (:func:`neuron_rhs`, :func:`cell_rhs` with the
synapse), its Jacobian (:func:`jacobian`), the steady-state gating and the current that
holds :math:`V` at equilibrium (:func:`steady_state_current`), the derivative tensors for
the first Lyapunov coefficient (:func:`derivative_tensors`), and the linear-in-own-variable
form :math:`\dot y = a - b y` that the exponential Euler scheme needs
(:func:`exponential_euler_form`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cache, lru_cache

import sympy as sp
from sympy.codegen.cfunctions import expm1

from theory.latex import Equation, LatexModel, Rel, Sym, Tex, register_latex

__all__ = [
    "HHConstants", "DEFAULT_CONSTANTS", "STATE", "CELL_STATE", "V", "m", "h", "n", "s", "I",
    "PARAMS", "TAYLOR_RADIUS", "TAYLOR_DEGREE", "bernoulli_ratio", "rates", "textbook_rates",
    "singular_limits", "steady_state_gating", "time_constants", "neuron_rhs", "cell_rhs",
    "jacobian", "steady_state_current", "derivative_tensors", "exponential_euler_form",
    "transmitter", "temperature_factor",
]

V, m, h, n, s = sp.symbols("V m h n s", real=True)
#: applied current density (uA/cm^2): external + synaptic + noise
I = sp.Symbol("I", real=True)
STATE = (V, m, h, n)
CELL_STATE = (V, m, h, n, s)

C_m, g_Na, g_K, g_L = sp.symbols("C_m gbar_Na gbar_K g_L", positive=True)
E_Na, E_K, E_L = sp.symbols("E_Na E_K E_L", real=True)
phi = sp.Symbol("phi", positive=True)
alpha_s, beta_s, V_p, K_p = sp.symbols("alpha_s beta_s V_p K_p", real=True)
#: model parameters in the order numerics passes them (see :class:`HHConstants`)
PARAMS = (C_m, g_Na, g_K, g_L, E_Na, E_K, E_L, phi, alpha_s, beta_s, V_p, K_p)

#: Taylor window of B(u) = u/(e^u - 1): |u| < TAYLOR_RADIUS uses the degree-TAYLOR_DEGREE
#: Taylor polynomial (remainder < 2 (r/2pi)^(N+1), about 1e-24).
TAYLOR_RADIUS = sp.Rational(1, 20)
TAYLOR_DEGREE = 10


@dataclass(frozen=True)
class HHConstants:
    """Constants of the model (units: uF/cm^2, mS/cm^2, mV, degC, /ms); sources in the module
    docstring.  ``temperature`` sets :math:`\\phi = Q_{10}^{(T - 6.3)/10}`."""

    C_m: float = 1.0
    g_Na: float = 120.0
    g_K: float = 36.0
    g_L: float = 0.3
    E_Na: float = 50.0
    E_K: float = -77.0
    E_L: float = -54.387
    temperature: float = 6.3
    q10: float = 3.0
    alpha_s: float = 1.1
    beta_s: float = 0.19
    V_p: float = 2.0
    K_p: float = 5.0

    @property
    def phi(self) -> float:
        return float(self.q10 ** ((self.temperature - 6.3) / 10.0))

    def values(self) -> tuple[float, ...]:
        """Numeric values in the order of :data:`PARAMS`."""
        return (self.C_m, self.g_Na, self.g_K, self.g_L, self.E_Na, self.E_K, self.E_L,
                self.phi, self.alpha_s, self.beta_s, self.V_p, self.K_p)

    def subs(self) -> dict:
        """``{symbol: exact value}`` (decimal strings as Rationals) for SymPy substitution."""
        vals = self.values()
        return {p: sp.Rational(repr(float(v))) for p, v in zip(PARAMS, vals)}

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["phi"] = self.phi
        return d


DEFAULT_CONSTANTS = HHConstants()


def temperature_factor(temperature, q10=3):
    r""":math:`\phi = Q_{10}^{(T - 6.3)/10}` (HH 1952, Q10 = 3); 1 at 6.3 °C."""
    return sp.sympify(q10) ** ((sp.sympify(temperature) - sp.Rational(63, 10)) / 10)


_Z = sp.Symbol("z")


@cache
def _bernoulli_polynomial() -> sp.Expr:
    """Taylor polynomial of z/(e^z - 1) at 0 to degree TAYLOR_DEGREE (``sympy.series``)."""
    return sp.expand(sp.series(_Z / (sp.exp(_Z) - 1), _Z, 0, TAYLOR_DEGREE + 1).removeO())


def _bernoulli_taylor(u: sp.Expr) -> sp.Expr:
    return _bernoulli_polynomial().subs(_Z, u)


def bernoulli_ratio(u: sp.Expr) -> sp.Expr:
    r""":math:`B(u) = u/(e^u - 1)` with its removable singularity at 0 handled exactly.

    Piecewise: the SymPy-derived Taylor polynomial :math:`\sum_{k\le N} B_k u^k/k!`
    (Bernoulli numbers :math:`B_k`) on :math:`|u| <` ``TAYLOR_RADIUS``, else
    :math:`u/\operatorname{expm1}(u)`.  Exact at 0 (:math:`B(0) = 1`), accurate to rounding
    everywhere, and differentiable term by term.
    """
    x = sp.Dummy("x", real=True)
    pw = sp.Piecewise((_bernoulli_taylor(x), sp.Abs(x) < TAYLOR_RADIUS),
                      (x / expm1(x), True))
    return pw.subs(x, u)


def transmitter(Vpre: sp.Expr = V) -> sp.Expr:
    r"""Transmitter concentration (units of :math:`T_{max}`):
    :math:`T(V) = 1/(1 + e^{-(V - V_p)/K_p})` (Destexhe et al. 1994, eq. (4))."""
    return 1 / (1 + sp.exp(-(Vpre - V_p) / K_p))


@lru_cache(maxsize=1)
def rates() -> dict[str, sp.Expr]:
    """The six rate functions (per ms, at 6.3 °C), with the exact singular handling."""
    r = sp.Rational
    return {
        "alpha_m": bernoulli_ratio(-(V + 40) / 10),
        "beta_m": 4 * sp.exp(-(V + 65) / 18),
        "alpha_h": r(7, 100) * sp.exp(-(V + 65) / 20),
        "beta_h": 1 / (1 + sp.exp(-(V + 35) / 10)),
        "alpha_n": bernoulli_ratio(-(V + 55) / 10) / 10,
        "beta_n": r(1, 8) * sp.exp(-(V + 65) / 80),
    }


def textbook_rates() -> dict[str, sp.Expr]:
    """The rate functions as HH wrote them (0/0 at V = -40 and -55 mV)."""
    r = sp.Rational
    out = dict(rates())
    out["alpha_m"] = r(1, 10) * (V + 40) / (1 - sp.exp(-(V + 40) / 10))
    out["alpha_n"] = r(1, 100) * (V + 55) / (1 - sp.exp(-(V + 55) / 10))
    return out


def singular_limits() -> dict[str, tuple[sp.Expr, sp.Expr]]:
    """``{name: (V0, limit)}``: the textbook rates' limits at their 0/0 voltages (sympy.limit)."""
    tb = textbook_rates()
    return {"alpha_m": (sp.Integer(-40), sp.limit(tb["alpha_m"], V, -40)),
            "alpha_n": (sp.Integer(-55), sp.limit(tb["alpha_n"], V, -55))}


def steady_state_gating() -> dict[str, sp.Expr]:
    r""":math:`x_\infty = \alpha_x/(\alpha_x + \beta_x)` for x = m, h, n."""
    r = rates()
    return {x: r[f"alpha_{x}"] / (r[f"alpha_{x}"] + r[f"beta_{x}"]) for x in "mhn"}


def time_constants() -> dict[str, sp.Expr]:
    r""":math:`\tau_x = 1/(\phi(\alpha_x + \beta_x))` in ms."""
    r = rates()
    return {x: 1 / (phi * (r[f"alpha_{x}"] + r[f"beta_{x}"])) for x in "mhn"}


def _ionic_current() -> sp.Expr:
    return g_Na * m**3 * h * (V - E_Na) + g_K * n**4 * (V - E_K) + g_L * (V - E_L)


@lru_cache(maxsize=1)
def neuron_rhs() -> sp.Matrix:
    """d/dt of (V, m, h, n) for applied current I (the HH equations, module docstring)."""
    r = rates()
    gate = [phi * (r[f"alpha_{x}"] * (1 - sym) - r[f"beta_{x}"] * sym)
            for x, sym in zip("mhn", (m, h, n))]
    return sp.Matrix([(I - _ionic_current()) / C_m] + gate)


@lru_cache(maxsize=1)
def cell_rhs() -> sp.Matrix:
    """d/dt of (V, m, h, n, s): the neuron plus its outgoing synapse's gating s."""
    ds = alpha_s * transmitter(V) * (1 - s) - beta_s * s
    return neuron_rhs().col_join(sp.Matrix([ds]))


@lru_cache(maxsize=2)
def jacobian(with_synapse: bool = False) -> sp.Matrix:
    """Jacobian of :func:`neuron_rhs` (4x4) or :func:`cell_rhs` (5x5) w.r.t. the state."""
    if with_synapse:
        return cell_rhs().jacobian(CELL_STATE)
    return neuron_rhs().jacobian(STATE)


@lru_cache(maxsize=1)
def steady_state_current() -> sp.Expr:
    r""":math:`I_\infty(V)`: the applied current whose equilibrium is V
    (:math:`I_{ion}(V, m_\infty, h_\infty, n_\infty)`); the rest state solves
    :math:`I_\infty(V) = I`."""
    ss = steady_state_gating()
    return _ionic_current().subs({m: ss["m"], h: ss["h"], n: ss["n"]})


@lru_cache(maxsize=2)
def derivative_tensors(with_synapse: bool = False):
    """Second and third derivatives of the right-hand side w.r.t. the state.

    Returns ``(B, C)``: ``B[i][j][k] = d2 f_i / dy_j dy_k`` and
    ``C[i][j][k][l] = d3 f_i / dy_j dy_k dy_l`` as nested lists of SymPy expressions (the
    multilinear forms of Kuznetsov, *Elements of Applied Bifurcation Theory*, eq. (3.18)).
    """
    f = cell_rhs() if with_synapse else neuron_rhs()
    y = CELL_STATE if with_synapse else STATE
    d = len(y)
    B = [[[sp.diff(f[i], y[j], y[k]) for k in range(d)] for j in range(d)] for i in range(d)]
    C = [[[[sp.diff(B[i][j][k], y[l]) for l in range(d)] for k in range(d)] for j in range(d)]
         for i in range(d)]
    return B, C


@lru_cache(maxsize=2)
def exponential_euler_form(with_synapse: bool = False) -> tuple[tuple[sp.Expr, sp.Expr], ...]:
    r"""For each state variable :math:`y_i`, ``(a_i, b_i)`` with :math:`\dot y_i = a_i - b_i y_i`
    and :math:`a_i, b_i` free of :math:`y_i` (checked), the form the exponential Euler
    scheme integrates exactly over a step with the other variables frozen:
    :math:`y_i \leftarrow a_i/b_i + (y_i - a_i/b_i)e^{-b_i\,dt}` (MacGregor 1987; Brian2's
    ``exponential_euler``)."""
    f = cell_rhs() if with_synapse else neuron_rhs()
    y = CELL_STATE if with_synapse else STATE
    out = []
    for fi, yi in zip(f, y):
        b = -sp.diff(fi, yi)
        if yi in b.free_symbols:
            raise ArithmeticError(f"d({yi})/dt is not linear in {yi}")
        a = fi.subs(yi, 0)
        if sp.expand(a - b * yi - fi, power_exp=False) != 0:
            raise ArithmeticError(f"d({yi})/dt is not of the form a - b {yi}")
        out.append((a, b))
    return tuple(out)


def _rate_symbols() -> tuple[dict, dict]:
    """``({name: Symbol}, {name: Symbol of its V-derivative})`` for the six rate functions,
    so the equations and the Jacobian print in terms of the rates."""
    names = ("alpha_m", "beta_m", "alpha_h", "beta_h", "alpha_n", "beta_n")
    return ({k: sp.Symbol(k, real=True) for k in names},
            {k: sp.Symbol(f"d{k}", real=True) for k in names})


def _rate_tex(name: str) -> str:
    return rf"\{name[:-2]}_{{{name[-1]}}}"


@register_latex("hh", "Hodgkin-Huxley squid axon (modern convention, 6.3 C) + kinetic synapse")
def hh_latex() -> LatexModel:
    """The model as a :class:`theory.latex.LatexModel`: equations, rates, the removable
    singularities, the Jacobian in terms of the rates, the synapse and the network input."""
    c = DEFAULT_CONSTANTS
    rs, drs = _rate_symbols()
    fun = {k: sp.Function(k)(V) for k in rs}
    gate = {x: phi * (fun[f"alpha_{x}"] * (1 - sym) - fun[f"beta_{x}"] * sym)
            for x, sym in zip("mhn", (m, h, n))}
    f = sp.Matrix([(I - _ionic_current()) / C_m] + [gate[x] for x in "mhn"])
    J = f.jacobian(STATE)
    to_syms = {sp.Derivative(fun[k], V): drs[k] for k in rs}

    def as_syms(e):
        return e.subs(to_syms).subs({fun[k]: rs[k] for k in rs})

    dot = [Tex(rf"\frac{{d{y}}}{{dt}}", (y,)) for y in "Vmhn"]
    tb = textbook_rates()
    u = sp.Symbol("u", real=True)
    rate_lines = [Rel(Tex(rf"{_rate_tex(k)}(V)", (k, "V")), tb[k]) for k in rs]
    limits = [Rel(Tex(rf"\lim_{{V\to {v0}}} {_rate_tex(k)}(V)", (k, "V")), lim)
              for k, (v0, lim) in singular_limits().items()]
    jac = [Rel(Tex(rf"J_{{{i + 1}{j + 1}}}", ("J",)), as_syms(J[i, j]))
           for i in range(4) for j in range(4) if J[i, j] != 0]
    rate_meaning = {
        "alpha_m": "the opening rate of the sodium activation gate (per ms)",
        "beta_m": "its closing rate",
        "alpha_h": "the rate of removal of sodium inactivation",
        "beta_h": "the rate of sodium inactivation",
        "alpha_n": "the opening rate of the potassium activation gate",
        "beta_n": "its closing rate",
    }
    symbols = [
        Sym("V", "V", "the membrane potential (mV, rest near $-65$ mV)"),
        Sym("I", "I", r"the applied current density ($\mu$A/cm$^2$)"),
        Sym("C_m", "C_m", rf"the membrane capacitance, {c.C_m:g} $\mu$F/cm$^2$"),
        Sym("gbar_Na", r"\bar{g}_{Na}", rf"the peak sodium conductance, {c.g_Na:g} mS/cm$^2$"),
        Sym("gbar_K", r"\bar{g}_{K}", rf"the peak potassium conductance, {c.g_K:g} mS/cm$^2$"),
        Sym("g_L", "g_{L}", rf"the leak conductance, {c.g_L:g} mS/cm$^2$"),
        Sym("E_Na", "E_{Na}", rf"the sodium reversal potential, {c.E_Na:g} mV"),
        Sym("E_K", "E_{K}", rf"the potassium reversal potential, {c.E_K:g} mV"),
        Sym("E_L", "E_{L}", rf"the leak reversal potential, {c.E_L:g} mV"),
        Sym("m", "m", "the sodium activation gate"),
        Sym("h", "h", "the sodium inactivation gate"),
        Sym("n", "n", "the potassium activation gate"),
        Sym("phi", r"\phi", rf"the temperature factor $3^{{(T - 6.3)/10}}$ (1 at "
            rf"{c.temperature:g} $^\circ$C)"),
        *[Sym(k, _rate_tex(k), rate_meaning[k]) for k in rs],
        Sym("u", "u", "the argument of $B$"),
        Sym("B", "B", "the Bernoulli generating function $u/(e^u - 1)$, with $B(0) = 1$"),
        Sym("J", "J", "the Jacobian of $(V, m, h, n)$, rows and columns in that order"),
        *[Sym(f"d{k}", rf"{_rate_tex(k)}'", f"the derivative of ${_rate_tex(k)}$ in $V$")
          for k in rs],
        Sym("s", "s", "the synaptic gating variable, the output $a(t) = s(t)$"),
        Sym("alpha_s", r"\alpha_{s}", rf"the transmitter binding rate, {c.alpha_s:g}/ms"),
        Sym("beta_s", r"\beta_{s}", rf"the unbinding rate, {c.beta_s:g}/ms"),
        Sym("V_p", "V_{p}", rf"the half-activation voltage of release, {c.V_p:g} mV"),
        Sym("K_p", "K_{p}", rf"its steepness, {c.K_p:g} mV"),
        Sym("I_ext", r"I_{ext,i}", "the external currents (weight times input)"),
        Sym("W", "W_{ij}", "the synaptic weight from neuron $j$ to neuron $i$"),
        Sym("sigma", r"\sigma", "the current-noise amplitude"),
        Sym("xi", r"\xi_i", "a standard white noise, independent across neurons and trials"),
    ]
    b_taylor = _bernoulli_taylor(u)
    return LatexModel(
        title="Hodgkin-Huxley squid axon and kinetic synapse",
        summary=(r"Hodgkin & Huxley 1952, modern convention (rest $-65$ mV; Dayan & Abbott "
                 r"2001, sec. 5.6); $t$ in ms, $V$ in mV.  The rates are HH's eqs. (12), (13), "
                 r"(20), (21), (23), (24); the synapse is Destexhe, Mainen & Sejnowski 1994."),
        equations=[
            Equation("membrane equation", Rel(dot[0], f[0])),
            Equation("gating variables", [Rel(dot[i + 1], as_syms(f[i + 1]))
                                          for i in range(3)]),
            Equation("rate functions (per ms)", rate_lines),
            Equation(r"removable singularities: $\alpha_m = B(-(V+40)/10)$ and "
                     r"$\alpha_n = B(-(V+55)/10)/10$; $B$ is evaluated by its Taylor polynomial "
                     r"near 0", [
                         Rel(Tex("B(u)", ("B", "u")), b_taylor,
                             note=Tex(rf"(|u| < {sp.latex(TAYLOR_RADIUS)})", ("u",))),
                         Rel(Tex("B(u)", ("B", "u")), u / (sp.exp(u) - 1),
                             note=Tex(r"(\mathrm{otherwise})")),
                         *limits]),
            Equation("Jacobian, derived by SymPy (nonzero entries)", jac),
            Equation("synapse: output $a(t) = s(t)$", Rel(Tex(r"\frac{ds}{dt}", ("s",)),
                                                        cell_rhs()[4])),
            Equation("network input to neuron $i$",
                     Rel(Tex("I_i", ("I",)),
                         Tex(r"I_{ext,i} + \sum_j W_{ij} s_j + \sigma \xi_i(t)",
                             ("I_ext", "W", "s", "sigma", "xi")))),
        ],
        symbols=symbols,
    )
