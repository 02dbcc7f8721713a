r"""One LaTeX format for every model: equations in math environments, symbols typeset as a
paper would, every symbol defined in a "where" line, and a standalone document that compiles.

How a model uses it
-------------------
A theory module describes its math as a :class:`LatexModel` and registers the function that
builds it (called once, lazily, on the first ``learndyn latex``)::

    from theory.latex import Equation, LatexModel, Rel, Sym, Tex, register_latex

    @register_latex("my-model", "one line for `learndyn list`")
    def my_model_latex() -> LatexModel:
        return LatexModel(
            title="My model",
            summary="Update $w \leftarrow w + \gamma f$ (Author 2020, eq. (3)).",
            equations=[
                Equation("mean flow, derived by SymPy", sp.Eq(lhs, rhs, evaluate=False)),
                Equation("two lines, aligned at =", [Rel(Tex(r"\dot m", ("m",)), e1), eq2]),
            ],
            symbols=[
                Sym("gamma", r"\gamma", "the learning rate"),
                Sym("s2", "s^2", "the variance of the output noise"),
                Sym(r"wo(\d+)", "w_{o,#1}", "the teacher weights", generic="w_{o,i}"),
            ],
        )

An equation (:class:`Equation`) is a text label and one line or a list of lines; a line is a
SymPy ``Eq`` (build it with ``evaluate=False``), a :class:`Rel` ``(lhs, rhs, rel)``, or a
single expression.  Either side may be a SymPy expression or :class:`Tex` (hand-written
LaTeX for a structural formula SymPy does not hold, e.g. a product over layers, together
with the names of the symbols it shows, so that the "where" lines stay complete).

The symbol table (:class:`Sym`) maps every SymPy symbol name to its LaTeX and its meaning:
``Sym("s2", "s^2", ...)`` prints the variance ``s2`` as :math:`s^2` (SymPy's default is
:math:`s_{2}`).  A family of indexed symbols is one entry whose ``name`` is a regular
expression and whose ``tex`` uses ``#1, #2, ...`` for its groups (TeX's own convention), with
``generic`` the way the where line writes the family: ``Sym(r"R_(\d+)_(\d+)", "R_{#1#2}",
"the input covariance", generic="R_{ij}")``.

What the module does with it
----------------------------
* :func:`render` (what ``learndyn latex MODEL`` prints): per equation the label, then an
  ``equation*`` environment (one line) or ``align*`` (several, aligned at the relation),
  then a "where" line defining each symbol of that equation not defined earlier (first use,
  as a paper does); a long sum is broken after a ``+``/``-`` into aligned continuation lines.
  A symbol with no table entry raises ``ValueError`` naming it: nothing prints undefined.
* :func:`document` (``learndyn latex MODEL --document``): a standalone ``article`` with
  ``amsmath`` and ``amssymb`` that compiles with ``pdflatex`` (tests compile every model).
* :func:`positive_form`: rewrites factors like :math:`(\gamma\lambda - 1)` as
  :math:`-(1 - \gamma\lambda)` so a derived ratio prints with its natural signs.

Constructs kept out of the output so that matplotlib's mathtext can draw every equation
(``\tfrac``, ``\big``, ``matrix`` environments): ``{}_2F_1`` prints as
:math:`{}_2F_1(a, b; c; z)`, transposes as :math:`W^\top`, derivatives of one symbol as
:math:`\frac{du}{dt}`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import sympy as sp
from sympy.printing.latex import LatexPrinter

__all__ = ["Sym", "Tex", "Rel", "Equation", "LatexModel", "register_latex", "render",
           "document", "positive_form", "symbols_in", "model_spec", "LINE_WIDTH"]

#: a displayed line longer than this many glyphs (roughly: a command counts as one) is broken
#: after a top-level + or -; about the width of an article page with 2 cm margins
LINE_WIDTH = 72


@dataclass(frozen=True)
class Sym:
    r"""One symbol (or family of indexed symbols) of a model.

    ``name``: the SymPy name (``"s2"``), or for a family (``generic`` given) a regular
    expression matched against the whole name (``r"wo(\d+)"``).  ``tex``: its LaTeX; for a
    family ``#1, #2, ...`` stand for the groups (``"w_{o,#1}"``).  ``meaning``: a noun
    phrase for the where line (may hold ``$...$``).  ``generic``: how the where line writes
    a family (``"w_{o,i}"``).
    """

    name: str
    tex: str
    meaning: str
    generic: str | None = None

    def __post_init__(self):
        if not self.meaning.strip():
            raise ValueError(f"symbol {self.name!r} needs a meaning for the where line")
        if self.generic is not None:
            re.compile(self.name)

    @property
    def is_family(self) -> bool:
        return self.generic is not None

    def tex_for(self, name: str) -> str | None:
        """The LaTeX of the symbol called ``name`` if this entry defines it, else None."""
        if not self.is_family:
            return self.tex if name == self.name else None
        m = re.fullmatch(self.name, name)
        if m is None:
            return None
        return re.sub(r"#(\d)", lambda g: m.group(int(g.group(1))), self.tex)

    @property
    def shown(self) -> str:
        """How the where line writes this entry."""
        return self.generic if self.is_family else self.tex


@dataclass(frozen=True)
class Tex:
    """Hand-written LaTeX for one side of a line, with the names of the symbols it shows
    (names or family members of the model's symbol table)."""

    body: str
    symbols: tuple[str, ...] = ()

    def __post_init__(self):
        if isinstance(self.symbols, str):
            object.__setattr__(self, "symbols", (self.symbols,))
        object.__setattr__(self, "symbols", tuple(self.symbols))


@dataclass(frozen=True)
class Rel:
    """One displayed line ``lhs rel rhs``; either side a SymPy expression or :class:`Tex`;
    ``note`` (a :class:`Tex`, e.g. ``Tex("(D = 2)", ("D",))``) is set after a ``\\qquad``."""

    lhs: object
    rhs: object
    rel: str = "="
    note: Tex | None = None


def _as_line(item) -> Rel:
    if isinstance(item, Rel):
        return item
    if isinstance(item, sp.Equality):
        return Rel(item.lhs, item.rhs)
    if isinstance(item, (sp.Basic, Tex)):
        return Rel(None, item, "")
    if isinstance(item, str):
        raise TypeError("a line must be SymPy or Tex(body, symbols), not a bare str "
                        f"(its symbols could not be checked): {item[:60]!r}")
    raise TypeError(f"cannot display {type(item).__name__} as an equation line")


@dataclass(frozen=True)
class Equation:
    """A labelled display: one line (``equation*``) or several (``align*``)."""

    label: str
    lines: object

    def __post_init__(self):
        items = self.lines if isinstance(self.lines, (list, tuple)) else [self.lines]
        if not items:
            raise ValueError(f"equation {self.label!r} has no lines")
        object.__setattr__(self, "lines", tuple(_as_line(i) for i in items))


@dataclass(frozen=True)
class LatexModel:
    """Everything ``learndyn latex`` prints for one model."""

    title: str
    summary: str
    equations: Sequence[Equation]
    symbols: Sequence[Sym]
    source: str = ""
    names: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "equations", tuple(self.equations))
        object.__setattr__(self, "symbols", tuple(self.symbols))
        seen = set()
        for s in self.symbols:
            if s.name in seen:
                raise ValueError(f"symbol {s.name!r} appears twice in the table of {self.title}")
            seen.add(s.name)

    def lookup(self, name: str) -> tuple[Sym, str]:
        """``(entry, tex)`` for the symbol called ``name``; ValueError if the table lacks it."""
        for s in self.symbols:
            if not s.is_family:
                tex = s.tex_for(name)
                if tex is not None:
                    return s, tex
        for s in self.symbols:
            tex = s.tex_for(name)
            if tex is not None:
                return s, tex
        raise ValueError(f"{self.title}: symbol {name!r} has no entry in the symbol table, "
                         "so it would print undefined")


# --------------------------------------------------------------------------------- printing


def symbols_in(expr) -> list:
    """What ``expr`` shows that a reader needs defined: its symbols, matrix symbols (not the
    shape symbols of a matrix) and functions defined outside SymPy (e.g. Owen's T)."""
    out: dict = {}

    def walk(e):
        if isinstance(e, (sp.MatrixSymbol, sp.Symbol)):
            out.setdefault(e, None)
            return
        if isinstance(e, sp.MatrixBase):
            for x in e:
                walk(x)
            return
        if isinstance(e, sp.Function) and not type(e).__module__.startswith("sympy"):
            out.setdefault(type(e), None)
        for a in getattr(e, "args", ()):
            walk(a)

    walk(expr)
    return list(out)


def _name(obj) -> str:
    return obj.__name__ if isinstance(obj, type) else obj.name


class _Printer(LatexPrinter):
    """SymPy's LaTeX printer with paper conventions and mathtext-safe constructs."""

    def ordered_terms(self, expr) -> list:
        """SymPy's order, except that a sum does not open with a minus sign when it has a
        positive term (``1 - \\gamma\\lambda``, not ``-\\gamma\\lambda + 1``)."""
        terms = list(self._as_ordered_terms(expr, order=None))
        pos = [t for t in terms if not t.could_extract_minus_sign()]
        neg = [t for t in terms if t.could_extract_minus_sign()]
        return pos + neg if pos and neg and terms[0].could_extract_minus_sign() else terms

    def signed_terms(self, expr) -> list[tuple[str, str]]:
        """``[(sign, tex), ...]`` of a sum, in :meth:`ordered_terms` order."""
        out = []
        for term in self.ordered_terms(expr):
            sign = "+"
            if term.could_extract_minus_sign():
                sign, term = "-", -term
            tex = self._print(term)
            if self._needs_add_brackets(term):
                tex = rf"\left({tex}\right)"
            out.append((sign, tex))
        return out

    def _print_Add(self, expr, order=None):
        parts = self.signed_terms(expr)
        tex = ("- " if parts[0][0] == "-" else "") + parts[0][1]
        return tex + "".join(f" {sign} {t}" for sign, t in parts[1:])

    def _print_Derivative(self, expr):
        if len(expr.variable_count) == 1 and isinstance(expr.expr, sp.Symbol):
            (v, n), = expr.variable_count
            if n == 1:
                return rf"\frac{{d {self._print(expr.expr)}}}{{d {self._print(v)}}}"
        return super()._print_Derivative(expr)

    def _print_Pow(self, expr):
        # a symbol printed as a square (s^2, \\sigma^2): (s^2)^2 is s^4, sqrt(s^2) is s
        base, e = expr.base, expr.exp
        if isinstance(base, sp.Symbol) and e.is_Rational and e.is_positive:
            m = re.fullmatch(r"(.+)\^(?:2|\{2\})", self._print(base))
            if m and (2 * e).is_Integer:
                k = int(2 * e)
                root = m.group(1)
                return root if k == 1 else f"{root}^{{{k}}}"
        return super()._print_Pow(expr)

    def _print_hyper(self, expr, exp=None):
        a = ", ".join(self._print(x) for x in expr.ap)
        b = ", ".join(self._print(x) for x in expr.bq)
        tex = (rf"{{}}_{{{len(expr.ap)}}}F_{{{len(expr.bq)}}}\left({a}; {b}; "
               rf"{self._print(expr.argument)}\right)")
        return rf"\left[{tex}\right]^{{{exp}}}" if exp is not None else tex

    def _print_Transpose(self, expr):
        arg = expr.arg
        s = self._print(arg)
        if not isinstance(arg, sp.MatrixSymbol):
            s = rf"\left({s}\right)"
        return s + r"^{\top}"


def _printer(model: LatexModel, exprs: Iterable) -> _Printer:
    names = {}
    for e in exprs:
        for s in symbols_in(e):
            tex = model.lookup(_name(s))[1]
            if not isinstance(s, type):
                names[s] = tex
    return _Printer({"symbol_names": names, "mat_symbol_style": "plain"})


def _width(tex: str) -> int:
    t = re.sub(r"\\(left|right|frac|operatorname|mathrm|sqrt|quad|qquad)\b", "", tex)
    t = re.sub(r"\\[A-Za-z]+", "@", t)
    return len(re.sub(r"[{}^_ \\,]", "", t))


def _side(model: LatexModel, side) -> tuple[str, list[str]]:
    """``(tex, symbol names)`` of one side."""
    if side is None:
        return "", []
    if isinstance(side, Tex):
        for name in side.symbols:
            model.lookup(name)
        return side.body, list(side.symbols)
    expr = sp.sympify(side)
    return _printer(model, [expr]).doprint(expr), [_name(s) for s in symbols_in(expr)]


def _terms(model: LatexModel, expr) -> list[str]:
    """The printed top-level terms of a sum, each with its sign (``"+ a"``, ``"- b"``)."""
    return [f"{sign} {t}" for sign, t in _printer(model, [expr]).signed_terms(expr)]


def _line_tex(model: LatexModel, line: Rel, aligned: bool) -> tuple[list[str], list[str]]:
    """Printed rows of one line (several when a long sum is broken) and its symbol names."""
    lhs, names_l = _side(model, line.lhs)
    rhs, names_r = _side(model, line.rhs)
    rel = line.rel
    amp = "&" if aligned else ""
    head = f"{lhs} {amp}{rel} " if line.lhs is not None else amp
    names = names_l + names_r
    note = ""
    if line.note is not None:
        note, names_n = _side(model, line.note)
        note = rf" \qquad {note}"
        names += names_n
    expr = None if isinstance(line.rhs, Tex) or line.rhs is None else sp.sympify(line.rhs)
    if expr is None or not expr.is_Add or _width(lhs + rhs) <= LINE_WIDTH:
        return [f"{head}{rhs}{note}".strip()], names
    terms = _terms(model, expr)
    rows, current = [], []
    for t in terms:
        if current and _width(" ".join(current) + t) > LINE_WIDTH - (0 if rows else _width(lhs)):
            rows.append(" ".join(current))
            current = []
        current.append(t)
    rows.append(" ".join(current))
    rows[0] = rows[0][2:] if rows[0].startswith("+ ") else rows[0]
    out = [f"{head}{rows[0]}".strip()] + [rf"&\quad {r}" for r in rows[1:]]
    out[-1] += note
    return out, names


def _display(model: LatexModel, eq: Equation) -> tuple[str, list[str]]:
    lines = eq.lines
    aligned = len(lines) > 1
    rows, names = [], []
    for line in lines:
        r, n = _line_tex(model, line, aligned=True)
        rows += r
        names += n
    if len(rows) == 1 and not aligned:
        single, _ = _line_tex(model, lines[0], aligned=False)
        body = "\\begin{equation*}\n  " + single[0] + "\n\\end{equation*}"
    else:
        if all(line.lhs is None for line in lines):
            rows = [r.replace("&", "", 1) if r.startswith("&") else r for r in rows]
        body = "\\begin{align*}\n  " + " \\\\\n  ".join(rows) + "\n\\end{align*}"
    return body, names


_TEXT_SPECIAL = re.compile(r"([&%#_])")


def _text(s: str) -> str:
    """Plain text with inline ``$...$`` math: escape TeX specials outside the math."""
    parts = s.split("$")
    if len(parts) % 2 == 0:
        raise ValueError(f"unbalanced $ in {s!r}")
    return "$".join(p if i % 2 else _TEXT_SPECIAL.sub(r"\\\1", p) for i, p in enumerate(parts))


def _where_item(e: Sym) -> str:
    """``$s^2$ is the variance ...``; a meaning that opens with ``$= ...$`` is a definition:
    ``$v_i = w_{o,i} - \\langle w_i\\rangle$ is the mean weight error``."""
    m = e.meaning.strip()
    if m.startswith("$="):
        close = m.index("$", 1)
        rest = m[close + 1:].lstrip(" ,;")
        head = f"${e.shown} {m[1:close]}$"
        return f"{head} is {_text(rest)}" if rest else head
    verb = "are" if "," in e.shown else "is"
    return f"${e.shown}$ {verb} {_text(m)}"


def _where(entries: list[Sym]) -> str:
    items = [_where_item(e) for e in entries]
    if len(items) == 1:
        return f"where {items[0]}."
    return "where " + "; ".join(items[:-1]) + "; and " + items[-1] + "."


def _blocks(model: LatexModel) -> list[str]:
    defined: set[str] = set()
    out = []
    for eq in model.equations:
        body, names = _display(model, eq)
        new: list[Sym] = []
        for name in names:
            entry = model.lookup(name)[0]
            if entry.name not in defined and entry not in new:
                new.append(entry)
        new.sort(key=model.symbols.index)
        defined |= {e.name for e in new}
        block = [f"% {eq.label}", f"{_text(eq.label)}", body]
        if new:
            block.append(_where(new))
        out.append("\n".join(block))
    return out


def render(model: LatexModel) -> str:
    """The math of ``model``: labels, environments and where lines (``learndyn latex``)."""
    model = _resolve(model)
    head = [f"% {model.title}", _text(model.summary)]
    if model.source:
        head.append("Source: " + _text(model.source))
    return "\n\n".join(["\n".join(head)] + _blocks(model)) + "\n"


def document(model) -> str:
    """A standalone LaTeX document (``article``, ``amsmath``, ``amssymb``) of ``model``
    (a :class:`LatexModel` or a registered model name)."""
    model = _resolve(model)
    title = _text(model.title)
    return "\n".join([
        r"\documentclass[11pt]{article}",
        r"\usepackage{amsmath}",
        r"\usepackage{amssymb}",
        r"\setlength{\textwidth}{17cm}\setlength{\oddsidemargin}{-0.5cm}"
        r"\setlength{\evensidemargin}{-0.5cm}",
        r"\setlength{\textheight}{23cm}\setlength{\topmargin}{-1.5cm}",
        r"\setlength{\parindent}{0pt}\setlength{\parskip}{0.6ex}",
        r"\allowdisplaybreaks",
        r"\begin{document}",
        rf"\section*{{{title}}}",
        render(model),
        r"\end{document}",
        "",
    ])


def _resolve(model) -> LatexModel:
    if isinstance(model, LatexModel):
        return model
    if isinstance(model, str):
        return model_spec(model)
    raise TypeError(f"expected a LatexModel or a model name, got {type(model).__name__}")


def model_spec(name: str) -> LatexModel:
    """The :class:`LatexModel` of the registered model ``name`` (KeyError lists the names;
    TypeError if the model registered raw LaTeX instead of a :class:`LatexModel`)."""
    from theory.catalog import get_model

    entry = get_model(name)
    if entry.spec is None:
        raise TypeError(f"model {name!r} registers raw LaTeX; describe it with "
                        "theory.latex.LatexModel and register_latex to get a document")
    return entry.spec()


def register_latex(name: str, description: str) -> Callable:
    """Decorator: register ``fn() -> LatexModel`` under ``name`` for ``learndyn latex``.

    ``fn`` is called once (cached); the catalog entry prints :func:`render` of it.
    """
    from theory.catalog import register_model

    def deco(fn):
        cached = lru_cache(maxsize=1)(fn)

        def latex() -> str:
            return render(cached())

        register_model(name, description, spec=cached)(latex)
        return cached

    return deco


# ------------------------------------------------------------------------------ presentation


def _flip(f):
    """``(sign, g)`` with ``f = sign * g`` and g's constant term positive when f is a sum."""
    if f.is_Add:
        const = f.as_coeff_add()[0]
        if const.is_negative:
            return -1, sp.Add(*[-a for a in f.args], evaluate=False)
    if f.is_Pow and f.exp.is_Integer and f.base.is_Add:
        sign, g = _flip(f.base)
        if sign < 0:
            return (-1) ** int(f.exp), sp.Pow(g, f.exp, evaluate=False)
    return 1, f


def positive_form(expr) -> sp.Expr:
    r"""``expr`` (a product or ratio) with every sum factor whose constant term is negative
    negated: :math:`-\gamma/(2(\gamma\lambda-1))` becomes :math:`\gamma/(2(1-\gamma\lambda))`;
    the radicand of a root factor is tidied the same way.

    Presentation only (the result is unevaluated but equal to ``expr``; a test checks it).
    """
    expr = sp.factor(sp.sympify(expr))
    c = sp.Integer(1)
    num: list = []
    den: list = []
    for f in sp.Mul.make_args(expr):
        if f.is_Rational:
            c *= f
            continue
        base, ex = f.as_base_exp()
        target = num
        if ex.is_Rational and ex.is_negative:
            f, target = sp.Pow(base, -ex), den
            base, ex = f.as_base_exp()
        if ex.is_Rational and not ex.is_Integer and (base.is_Mul or base.is_Add):
            # a root: tidy its radicand (sqrt(-(e - 1) p) -> sqrt((1 - e) p))
            f = sp.Pow(positive_form(base), ex, evaluate=False)
        s, g = _flip(f)
        c *= s
        target.append(g)
    num_f = ([sp.Integer(abs(c.p))] if abs(c.p) != 1 or not num else []) + num
    den_f = ([sp.Integer(c.q)] if c.q != 1 else []) + den
    num_e = num_f[0] if len(num_f) == 1 else sp.Mul(*num_f, evaluate=False)
    out = num_e
    if den_f:
        den_e = den_f[0] if len(den_f) == 1 else sp.Mul(*den_f, evaluate=False)
        out = sp.Mul(num_e, sp.Pow(den_e, -1, evaluate=False), evaluate=False)
    return sp.Mul(-1, out, evaluate=False) if c < 0 else out
