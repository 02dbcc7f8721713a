r"""A batched simulator generated from a learning rule's one definition (:mod:`theory.rules`).

:class:`GeneratedRule` is an :class:`numerics.sim.ensemble.OnlineRule`: it lambdifies the
rule's update :math:`f` (the same SymPy expression the theory averages) and draws its random
variables from the same definitions, for all replicas at once (arrays of shape
``(replicas, ...)``; there is no Python loop over replicas).

Random numbers per replica and step (the order of :meth:`GeneratedRule.draw`): one uniform per
:class:`~theory.rules.Mixture` (its component: the first whose cumulative probability exceeds
it), standard normals for every Gaussian block in declaration order (a block is
:math:`\mu + z L` with :math:`L` the symmetric square root of its covariance, so a singular
covariance works), and one uniform per :class:`~theory.rules.Choice` (its value: the first
whose cumulative probability exceeds it).  This is the layout of the hand-written simulators
(:class:`numerics.sim.lms.LmsRule`, :class:`numerics.sim.perceptron.PerceptronRule`), which the
tests show it equals step for step on the same random numbers.

Generated code, vectorised by structure found in the expressions rather than by hand:

* **linear forms** — every sum inside :math:`f` that is linear in the Gaussian variables with
  coefficients affine in the weights (:math:`w_o\cdot x + \xi - w\cdot x`, :math:`w\cdot x`) is
  computed once per step as a matrix-vector product and a row-wise dot product;
* **one template for all weights** — when :math:`f_i` is the same expression for every
  :math:`i` with :math:`w_i` and the :math:`i`-th entry of each weight-sized Gaussian block
  replaced by placeholders (:math:`f_i = e\,x_i`, :math:`y(x_i - y w_i)`), it is evaluated once on
  ``(replicas, n)`` arrays; otherwise each :math:`f_i` is evaluated on ``(replicas,)`` arrays.

An update that is not finite while the weights are stops the run with
:class:`NonFiniteUpdateError` naming the rule, the entry, the replica and its weights.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import sympy as sp

from numerics.checks import as_covariance, as_positive
from numerics.compile import DEFAULT_MODULES
from numerics.rules import resolve_values
from numerics.sim.ensemble import OnlineRule
from theory.rules import LearningRule, Mixture, Normal

__all__ = ["GeneratedRule", "NonFiniteUpdateError"]


class NonFiniteUpdateError(ValueError):
    """The update of a rule evaluated to NaN or inf at finite weights."""


def _sqrt_psd(S: np.ndarray) -> np.ndarray:
    lam, Q = np.linalg.eigh(S)
    return (Q * np.sqrt(np.clip(lam, 0.0, None))) @ Q.T


def _numeric(expr, values: Mapping, what: str) -> np.ndarray:
    m = sp.Matrix(expr).xreplace({k: sp.Float(v) for k, v in values.items()})
    try:
        return np.array(m.evalf(), dtype=float)
    except TypeError:
        raise ValueError(f"{what} is not numeric after substituting the parameters: "
                         f"{m}") from None


class _Block:
    """A Gaussian block: ``symbols``, noise columns, and per component (mean, square root)."""

    def __init__(self, symbols, start, comps, what):
        self.symbols = tuple(symbols)
        self.k = len(self.symbols)
        self.cols = slice(start, start + self.k)
        self.means, self.roots, self.sds = [], [], []
        for mean, cov in comps:
            C = as_covariance(cov, what)
            self.means.append(np.asarray(mean, dtype=float).ravel())
            iso = float(C[0, 0])
            if np.array_equal(C, iso * np.eye(self.k)):
                self.sds.append(np.sqrt(iso))
                self.roots.append(None)
            else:
                self.sds.append(None)
                self.roots.append(_sqrt_psd(C))
        self.shared = all(r is None for r in self.roots) and len(set(self.sds)) == 1 or \
            all(r is not None for r in self.roots) and all(
                np.array_equal(r, self.roots[0]) for r in self.roots)
        self.zero_mean = all(not np.any(m) for m in self.means)

    def _transform(self, z, c: int) -> np.ndarray:
        return z * self.sds[c] if self.roots[c] is None else z @ self.roots[c]

    def sample(self, noise: np.ndarray, comp: np.ndarray | None) -> np.ndarray:
        z = noise[:, self.cols]
        if comp is None or self.shared:
            x = self._transform(z, 0)
        else:
            x = self._transform(z, 0)
            for c in range(1, len(self.means)):
                x = np.where((comp == c)[:, None], self._transform(z, c), x)
        if not self.zero_mean:
            if comp is None:
                x = x + self.means[0]
            else:
                x = x + np.stack(self.means)[comp]
        return x


def _poly_degree(expr, syms) -> int | None:
    if not expr.is_polynomial(*syms):
        return None
    return sp.Poly(expr, *syms).total_degree() if expr.free_symbols & set(syms) else 0


class GeneratedRule(OnlineRule):
    r"""The update of ``rule`` (a :class:`theory.rules.LearningRule`) with parameter ``values``
    as a batched simulator: :math:`w \leftarrow w + \eta f` with learning rate ``lr``
    (``t = lr * step``)."""

    def __init__(self, rule: LearningRule, values: Mapping | None = None, *, lr: float,
                 check_finite: bool = True):
        if not isinstance(rule, LearningRule):
            raise TypeError(f"expected a theory.rules.LearningRule, got {type(rule).__name__}")
        self.rule = rule
        self.values = resolve_values(rule, values)
        self.lr = as_positive(lr, "lr")
        self.dim = rule.n
        self.check_finite = bool(check_finite)
        subs = {k: sp.Float(v) for k, v in self.values.items()}

        # ------------------------------------------------ layout of the random numbers
        col = 0
        self._mix = []  # (column, cumulative probabilities, labels or None)
        for m in rule.mixtures:
            p = _numeric([c.probability for c in m.components], self.values,
                         f"the component probabilities of ({', '.join(map(str, m.symbols))})")
            p = p.ravel()
            if np.any(p < 0) or abs(p.sum() - 1) > 1e-12:
                raise ValueError(f"the component probabilities of the mixture of "
                                 f"({', '.join(map(str, m.symbols))}) must be >= 0 and sum to 1, "
                                 f"got {p}")
            labels = None if m.label is None else np.array(
                [float(sp.sympify(c.label).xreplace(subs)) for c in m.components])
            self._mix.append((col, np.cumsum(p)[:-1], labels))
            col += 1
        self._blocks: list[_Block] = []
        block_of_mix = {}
        for r in rule.random:
            if isinstance(r, Normal):
                what = f"the covariance of ({', '.join(map(str, r.symbols))})"
                comps = [(_numeric(r.mean, self.values, what), _numeric(r.cov, self.values, what))]
                self._blocks.append(_Block(r.symbols, col, comps, what))
                col += len(r.symbols)
            elif isinstance(r, Mixture):
                what = f"the covariance of ({', '.join(map(str, r.symbols))})"
                comps = [(_numeric(c.mean, self.values, what), _numeric(c.cov, self.values, what))
                         for c in r.components]
                block_of_mix[len(self._blocks)] = rule.mixtures.index(r)
                self._blocks.append(_Block(r.symbols, col, comps, what))
                col += len(r.symbols)
        self._block_mix = block_of_mix
        self._n_normal = col - len(self._mix)
        self._choice_col = col
        self.noise_dim = col + len(rule.choices)

        # ------------------------------------------------ the expressions
        w = list(rule.weights)
        g = [s for b in self._blocks for s in b.symbols]
        self._gset = set(g)
        self._w = w
        labels = list(rule.labels)
        choices = [c.symbol for c in rule.choices]
        f = [e.xreplace(subs) for e in rule.update]
        probs = [[p.xreplace(subs) for p in c.probabilities] for c in rule.choices]
        self._forms: list[tuple[sp.Symbol, np.ndarray, np.ndarray]] = []
        self._form_keys: dict = {}
        f = [self._hoist(e) for e in f]
        probs = [[self._hoist(p) for p in ps] for ps in probs]
        forms = [s for s, _, _ in self._forms]
        self._form_plans = []
        for sym, a0, B in self._forms:
            plan, start = [], 0
            for bi, b in enumerate(self._blocks):
                sl = slice(start, start + b.k)
                start += b.k
                a = a0[sl].copy() if np.any(a0[sl]) else None
                rd = _rowdot_plan(B[:, sl]) if np.any(B[:, sl]) else None
                if a is not None or rd is not None:
                    plan.append((bi, a, rd))
            self._form_plans.append((sym.name, plan))
        self._choice_vals = [np.array([float(v.xreplace(subs)) for v in c.values])
                             for c in rule.choices]
        scalars = g + forms + labels + choices
        self._choice_fns = []
        for k, ps in enumerate(probs):
            args = w + scalars[:len(g) + len(forms) + len(labels) + k]
            fn = sp.lambdify(args, ps, modules=DEFAULT_MODULES, cse=True)
            self._choice_fns.append((fn, [a.name for a in args]))
        # one template for all weights?
        self._template = self._find_template(f, w, labels, forms, choices)
        if self._template is None:
            args = w + scalars
            self._body = sp.lambdify(args, f, modules=DEFAULT_MODULES, cse=True)
            self._body_args = [a.name for a in args]
        self._update_exprs = tuple(f)

    # ---------------------------------------------------------------- code generation
    def _hoist(self, e):
        """``e`` with every sum linear in the Gaussian variables (coefficients affine in the
        weights) replaced by a symbol computed once per step."""
        if not (e.free_symbols & self._gset) or e.is_Atom:
            return e
        if e.is_Add:
            lin, other = [], []
            for t in e.args:
                (lin if self._is_linear_term(t) else other).append(t)
            if len(lin) >= 2:
                return sp.Add(*[self._hoist(t) for t in other]) + self._form(sp.Add(*lin))
        return e.func(*[self._hoist(a) for a in e.args])

    def _is_linear_term(self, t) -> bool:
        gs = t.free_symbols & self._gset
        if len(gs) != 1:
            return False
        gj = next(iter(gs))
        coeff = sp.cancel(t / gj)
        if coeff.free_symbols & self._gset:
            return False
        extra = coeff.free_symbols - set(self._w)
        if extra:
            return False
        deg = _poly_degree(coeff, self._w)
        return deg is not None and deg <= 1

    def _form(self, lin):
        if lin in self._form_keys:
            return self._form_keys[lin]
        g = [s for b in self._blocks for s in b.symbols]
        a0 = np.zeros(len(g))
        B = np.zeros((len(self._w), len(g)))
        for t in sp.Add.make_args(lin):
            gj = next(iter(t.free_symbols & self._gset))
            j = g.index(gj)
            poly = sp.Poly(sp.cancel(t / gj), *self._w)
            a0[j] += float(poly.coeff_monomial(1))
            for i, wi in enumerate(self._w):
                B[i, j] += float(poly.coeff_monomial(wi))
        sym = sp.Symbol(f"L_{len(self._forms)}", real=True)
        self._forms.append((sym, a0, B))
        self._form_keys[lin] = sym
        return sym

    def _find_template(self, f, w, labels, forms, choices):
        n = len(w)
        aligned = [b for b in self._blocks if b.k == n]
        W = sp.Symbol("W_vec", real=True)
        Xs = [sp.Symbol(f"X_vec{k}", real=True) for k in range(len(aligned))]
        members = set(w) | {s for b in aligned for s in b.symbols}
        templates = []
        for i, fi in enumerate(f):
            rep = {w[i]: W, **{b.symbols[i]: X for b, X in zip(aligned, Xs)}}
            ti = fi.xreplace(rep)
            if ti.free_symbols & members:
                return None
            templates.append(ti)
        if any(sp.expand(t - templates[0]) != 0 for t in templates[1:]):
            return None
        other_g = [s for b in self._blocks if b.k != n for s in b.symbols]
        args = [W, *Xs, *other_g, *forms, *labels, *choices]
        fn = sp.lambdify(args, templates[0], modules=DEFAULT_MODULES, cse=True)
        # the step's increment lr * f, the factor folded into the generated code
        self._scaled = sp.lambdify(args, sp.Float(self.lr) * templates[0],
                                   modules=DEFAULT_MODULES, cse=True)
        self._aligned = [self._blocks.index(b) for b in aligned]
        self._vector_args = {"W_vec", *[X.name for X in Xs]}
        return fn, ["W_vec", *[X.name for X in Xs], *[s.name for s in other_g],
                    *[s.name for s in forms], *[s.name for s in labels],
                    *[s.name for s in choices]]

    # ---------------------------------------------------------------- simulation
    def draw(self, rng: np.random.Generator, steps: int) -> np.ndarray:
        out = np.empty((steps, self.noise_dim))
        k = len(self._mix)
        if k:
            out[:, :k] = rng.random((steps, k))
        if self._n_normal:
            out[:, k:self._choice_col] = rng.standard_normal((steps, self._n_normal))
        if self.noise_dim > self._choice_col:
            out[:, self._choice_col:] = rng.random((steps, self.noise_dim - self._choice_col))
        return out

    def _environment(self, w: np.ndarray, noise: np.ndarray):
        """Arrays of one step by symbol name (per-replica scalars as ``(R,)``) and the
        sampled Gaussian blocks."""
        env: dict = {}
        comps = []
        for col, cum, _ in self._mix:
            u = noise[:, col]
            if cum.size == 1:
                comps.append((u >= cum[0]).astype(np.intp))
            else:
                comps.append((u[:, None] >= cum).sum(1) if cum.size else
                             np.zeros(u.size, np.intp))
        label_syms = iter(self.rule.labels)
        for c, (_, _, labels) in zip(comps, self._mix):
            if labels is not None:
                env[next(label_syms).name] = labels[c]
        blocks = []
        for bi, b in enumerate(self._blocks):
            comp = comps[self._block_mix[bi]] if bi in self._block_mix else None
            blocks.append(b.sample(noise, comp))
        for name, plan in self._form_plans:
            val = None
            for bi, a, rowdot in plan:
                x = blocks[bi]
                if a is not None:
                    part = x @ a
                    val = part if val is None else val + part
                if rowdot is not None:
                    part = rowdot(w, x)
                    val = part if val is None else val + part
            env[name] = val
        return env, blocks

    def update(self, w: np.ndarray, noise: np.ndarray, scaled: bool = False) -> np.ndarray:
        """The update ``f`` of every replica: ``w`` (R, n), ``noise`` (R, noise_dim) -> (R, n);
        ``scaled``: ``lr * f`` (what a step adds)."""
        env, blocks = self._environment(w, noise)
        template = self._template
        aligned = self._aligned if template is not None else []
        for bi, (b, x) in enumerate(zip(self._blocks, blocks)):
            if bi in aligned:
                env[f"X_vec{aligned.index(bi)}"] = x
            if bi not in aligned or self._choice_fns:
                for j, s in enumerate(b.symbols):
                    env[s.name] = x[:, j]
        if self._choice_fns or template is None:
            for i, wi in enumerate(self._w):
                env[wi.name] = w[:, i]
        for k, (fn, names) in enumerate(self._choice_fns):
            R = w.shape[0]
            probs = np.stack([np.broadcast_to(np.asarray(p, dtype=float), (R,))
                              for p in fn(*[env[a] for a in names])], 1)
            u = noise[:, self._choice_col + k]
            idx = (u[:, None] >= np.cumsum(probs[:, :-1], axis=1)).sum(1)
            env[self.rule.choices[k].symbol.name] = self._choice_vals[k][idx]
        if template is not None:
            fn, names = template
            fn = self._scaled if scaled else fn
            env["W_vec"] = w
            f = fn(*[env[a] if a in self._vector_args else env[a][:, None] for a in names])
            return f if f.shape == w.shape else np.broadcast_to(f, w.shape)
        cols = self._body(*[env[a] for a in self._body_args])
        f = np.empty_like(w)
        for i in range(self.dim):
            f[:, i] = cols[i]
        if scaled:
            f *= self.lr
        return f

    def step(self, w: np.ndarray, noise: np.ndarray) -> np.ndarray:
        dw = self.update(w, noise, scaled=True)
        if self.check_finite and not np.isfinite(dw.sum()):
            self._diagnose(w, dw / self.lr)
        w += dw
        return w

    def _diagnose(self, w: np.ndarray, f: np.ndarray) -> None:
        bad = ~np.isfinite(f)
        if not bad.any():
            return  # a finite sum overflowed: nothing is wrong with the update itself
        r, i = (int(v[0]) for v in np.nonzero(bad))
        if not np.all(np.isfinite(w[r])):
            return  # the weights themselves diverged: the ensemble reports it
        raise NonFiniteUpdateError(
            f"the update of rule {self.rule.name!r} is not finite: f_{i} = {f[r, i]} "
            f"({self._update_exprs[i]}) in replica {r} at finite weights "
            f"{dict(zip(map(str, self._w), np.round(w[r], 6).tolist()))}; the expression is "
            "undefined there (a division by zero, a log of a non-positive number, ...)")

    def sample_updates(self, w, size: int, rng: np.random.Generator) -> np.ndarray:
        """``size`` independent updates at the fixed weights ``w`` (n,): ``(size, n)`` (Monte
        Carlo estimates of the drift and second moment)."""
        w = np.asarray(w, dtype=float)
        if w.shape != (self.dim,):
            raise ValueError(f"w must have shape ({self.dim},), got {w.shape}")
        noise = self.draw(rng, size)
        return np.array(self.update(np.tile(w, (size, 1)), noise))


def _rowdot_plan(B: np.ndarray):
    r"""``f(w, x)`` = :math:`\sum_{ij} w_{ri} B_{ij} x_{rj}` per replica r; a diagonal B (the
    usual :math:`w\cdot x` with a constant factor) costs one row-wise dot product."""
    n, k = B.shape
    B = B.copy()
    if n == k and np.count_nonzero(B - np.diag(np.diag(B))) == 0:
        d = np.diag(B).copy()
        if np.all(d == 1.0):
            return lambda w, x: np.einsum("ri,ri->r", w, x)
        if np.all(d == d[0]):
            c = float(d[0])
            return lambda w, x: c * np.einsum("ri,ri->r", w, x)
        return lambda w, x: np.einsum("ri,ri->r", w * d, x)
    return lambda w, x: np.einsum("ri,ri->r", w @ B, x)
