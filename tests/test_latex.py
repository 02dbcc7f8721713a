"""LaTeX output of every registered model: it parses (mathtext), compiles (pdflatex), and
follows the symbol rules (paper typesetting, every symbol defined where it first appears)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.mathtext import MathTextParser

from theory.catalog import models
from theory.latex import (
    Equation,
    LatexModel,
    Rel,
    Sym,
    Tex,
    document,
    model_spec,
    positive_form,
    render,
    symbols_in,
)
from validate.cli import main

MODELS = sorted(models())

#: Constructs matplotlib's mathtext cannot parse (checked below, so the list cannot rot).
#: theory.latex avoids all of them (2F1 is printed as {}_2F_1(a, b; c; z), halves as \frac),
#: so no line of the current models is skipped; a line holding one of them would be.
MATHTEXT_UNSUPPORTED = {
    r"\begin{matrix}": r"\left[\begin{matrix}a\end{matrix}\right]",
    r"\tfrac": r"\tfrac{1}{2}",
    r"\big": r"\big(a\big)",
    r"\Big": r"\Big[a\Big]",
    r"\lvert": r"\lvert a\rvert",
    r"\begin{cases}": r"\begin{cases}a\end{cases}",
}

_ENV = re.compile(r"\\begin\{(equation\*|align\*)\}\n(.*?)\n\\end\{\1\}", re.S)


def _parser():
    return MathTextParser("agg")


def _math_rows(tex: str) -> list[str]:
    """Every displayed row (environment stripped, split at \\\\, & removed) of ``tex``."""
    rows = []
    for _, body in _ENV.findall(tex):
        for row in body.split("\\\\"):
            rows.append(row.replace("&", "").strip())
    return rows


def _inline_math(tex: str) -> list[str]:
    text = _ENV.sub("", tex)
    text = "\n".join(line for line in text.splitlines() if not line.startswith("%"))
    return re.findall(r"\$([^$]+)\$", text)


@pytest.fixture(scope="module")
def rendered():
    return {name: models()[name].latex() for name in MODELS}


def test_every_model_describes_itself_with_the_latex_module():
    assert {"lms", "perceptron-sl", "perceptron-rl", "deep-linear", "diffuse-tree"} <= set(MODELS)
    for name in MODELS:
        assert isinstance(model_spec(name), LatexModel), name


def test_unsupported_list_is_really_unsupported():
    p = _parser()
    for construct, example in MATHTEXT_UNSUPPORTED.items():
        assert construct in example
        with pytest.raises(ValueError):
            p.parse(f"${example}$")


@pytest.mark.parametrize("name", MODELS)
def test_every_equation_renders_in_mathtext(name, rendered):
    tex = rendered[name]
    p = _parser()
    rows = _math_rows(tex)
    assert rows, f"{name}: no displayed equations"
    skipped = []
    for row in rows + _inline_math(tex):
        if any(c in row for c in MATHTEXT_UNSUPPORTED):
            skipped.append(row)
            continue
        try:
            p.parse(f"${row}$")
        except ValueError as err:
            pytest.fail(f"{name}: mathtext cannot parse {row!r}: {str(err).splitlines()[0]}")
    assert not skipped, f"{name}: rows with constructs mathtext lacks: {skipped}"


@pytest.mark.parametrize("name", MODELS)
def test_every_equation_is_in_a_math_environment(name, rendered):
    tex = rendered[name]
    outside = _ENV.sub("", tex)
    for line in outside.splitlines():
        if line.startswith("%") or not line.strip():
            continue
        # outside the environments: text with inline $...$ only, no bare display math
        assert "&" not in line.replace(r"\&", ""), line
        assert not re.search(r"(?<!\\)\\\\$", line), line
        assert line.count("$") % 2 == 0, line


@pytest.mark.parametrize("name", MODELS)
def test_symbol_rules(name, rendered):
    tex = rendered[name]
    for bad in (r"\sigma_{2}", "wo_{", "M_{2}", "sigma_par2", r"\left(\sigma^2\right)",
                r"\left(s^2\right)", r"\begin{matrix}", r"\tfrac"):
        assert bad not in tex, f"{name}: {bad!r} printed"
    spec = model_spec(name)
    for entry in spec.symbols:
        # a variance (s2, sigma2, ...) is a square, never a subscript 2
        if re.fullmatch(r"(s|sigma\w*)2", entry.name):
            assert re.search(r"\^\{?2\}?$", entry.tex), entry
            assert not re.search(re.escape(entry.tex.split("^")[0]) + r"_\{2\}", tex), entry
    # a product never reads as a subtraction: no thin space or factor followed by a bare minus
    assert not re.search(r"\\,\s*-", tex), name


@pytest.mark.parametrize("name", MODELS)
def test_every_symbol_is_defined_at_or_before_its_first_use(name, rendered):
    spec = model_spec(name)
    blocks = rendered[name].strip().split("\n\n")[1:]
    assert len(blocks) == len(spec.equations)
    where_so_far = ""
    for eq, block in zip(spec.equations, blocks):
        where = [line for line in block.splitlines() if line.startswith("where ")]
        where_so_far += " ".join(where)
        names = []
        for line in eq.lines:
            for side in (line.lhs, line.rhs, line.note):
                if isinstance(side, Tex):
                    names += list(side.symbols)
                elif side is not None:
                    names += [s.__name__ if isinstance(s, type) else s.name
                              for s in symbols_in(sp.sympify(side))]
        assert names or eq.lines, eq.label
        for n in names:
            entry, _ = spec.lookup(n)
            assert f"${entry.shown}" in where_so_far, (
                f"{name}: {n!r} ({entry.shown}) in {eq.label!r} is not defined in a where line "
                "at or before it")


def test_lms_stationary_variance_reads_as_a_product(rendered):
    tex = rendered["lms"]
    assert (r"k^* &= \frac{\gamma \left(S^* + s^2\right)}{2 \left(1 - \gamma \lambda\right)}"
            in tex)
    assert r"S^* &= \frac{A s^2}{1 - A}" in tex
    assert r"w_{o,0}" in tex and r"\frac{d C_{00}}{d t}" in tex


def test_perceptron_names_variance_and_norm(rendered):
    for name in ("perceptron-sl", "perceptron-rl"):
        tex = rendered[name]
        assert r"\sigma^2" in tex and r"|\mu|" in tex
        assert r"$|\mu|$ is the norm of the class mean" in tex


# ----------------------------------------------------------------------------- pdflatex


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
@pytest.mark.parametrize("name", MODELS)
def test_document_compiles_with_pdflatex(name, tmp_path):
    path = tmp_path / f"{name}.tex"
    assert main(["latex", name, "--document", "--out", str(path)]) == 0
    text = path.read_text()
    assert text.startswith(r"\documentclass") and r"\usepackage{amsmath}" in text
    assert r"\usepackage{amssymb}" in text and text.rstrip().endswith(r"\end{document}")
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", path.name],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    log = (tmp_path / f"{name}.log").read_text(errors="replace")
    errors = [line for line in log.splitlines() if line.startswith("!")]
    assert proc.returncode == 0 and not errors, f"{name}: pdflatex failed: {errors}"
    assert (tmp_path / f"{name}.pdf").stat().st_size > 1000
    overfull = re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", log)
    assert not overfull, f"{name}: lines wider than the page by {overfull} pt"


# ---------------------------------------------------------------------------------- CLI


def test_cli_document_to_stdout_and_folder(tmp_path, capsys):
    assert main(["latex", "lms", "--document"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(r"\documentclass") and r"\begin{document}" in out
    assert main(["latex", "diffuse-tree", "--document", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "diffuse-tree.tex").read_text() == document("diffuse-tree")


def test_cli_latex_errors(tmp_path, capsys):
    assert main(["latex", "lms", "--out", str(tmp_path / "x.tex")]) == 2
    assert "--document" in capsys.readouterr().err
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["latex", "lms", "--document", "--out", str(blocker / "x.tex")]) == 2
    assert "cannot write" in capsys.readouterr().err
    assert main(["latex", "nope", "--document"]) == 2
    assert "unknown model" in capsys.readouterr().err


# ------------------------------------------------------------------------ the module itself


def _toy(equations, symbols) -> LatexModel:
    return LatexModel(title="toy", summary="A toy model.", equations=equations, symbols=symbols)


def test_undefined_symbol_is_refused_by_name():
    x, y = sp.symbols("x y")
    model = _toy([Equation("e", sp.Eq(y, 2 * x, evaluate=False))], [Sym("x", "x", "an input")])
    with pytest.raises(ValueError, match="'y' has no entry"):
        render(model)
    model = _toy([Equation("e", Rel(Tex(r"\dot z", ("z",)), x))], [Sym("x", "x", "an input")])
    with pytest.raises(ValueError, match="'z' has no entry"):
        render(model)


def test_bad_tables_and_lines_are_refused():
    with pytest.raises(ValueError, match="twice"):
        _toy([], [Sym("x", "x", "a"), Sym("x", "y", "b")])
    with pytest.raises(ValueError, match="meaning"):
        Sym("x", "x", " ")
    with pytest.raises(TypeError, match="bare str"):
        Equation("e", r"x = 1")
    with pytest.raises(ValueError, match="no lines"):
        Equation("e", [])


def test_families_first_use_where_lines_and_breaking():
    w = sp.symbols("w0:30", real=True)
    s2 = sp.Symbol("s2", positive=True)
    t = sp.Symbol("t")
    long_sum = sum((i + 1) * wi**2 for i, wi in enumerate(w)) + s2
    model = _toy(
        [Equation("one", Rel(sp.Derivative(w[0], t), -s2 * w[0])),
         Equation("two", Rel(Tex("L", ("L",)), long_sum))],
        [Sym(r"w(\d+)", "w_{#1}", "the weights", generic="w_i"),
         Sym("s2", "s^2", "the noise variance"), Sym("t", "t", "time"),
         Sym("L", "L", r"$= \sum_i (i+1) w_i^2 + s^2$, the loss")])
    tex = render(model)
    assert r"\frac{d w_{0}}{d t} = - s^2 w_{0}" in tex
    assert "where $w_i$ is the weights; $s^2$ is the noise variance; and $t$ is time." in tex
    # second equation: only L is new; the long sum is broken into aligned rows
    assert "where $L = \\sum_i (i+1) w_i^2 + s^2$ is the loss." in tex
    body = _ENV.findall(tex)[1][1]
    assert body.count("\\\\") >= 2 and "&\\quad +" in body
    assert _ENV.findall(tex)[1][0] == "align*"


def test_squared_symbols_print_as_powers():
    s2 = sp.Symbol("s2", positive=True)
    x = sp.Symbol("x")
    model = _toy([Equation("e", Rel(x, s2**2 + sp.sqrt(s2) + s2**sp.Rational(3, 2)))],
                 [Sym("s2", "s^2", "a variance"), Sym("x", "x", "a value")])
    tex = render(model)
    assert "s^{4}" in tex and "s^{3}" in tex and "s^2" in tex and r"\sqrt" not in tex


def test_hypergeometric_and_transpose_print_without_matrix_environments():
    z = sp.Symbol("z")
    W = sp.MatrixSymbol("W1", 2, 2)
    model = _toy([Equation("e", [Rel(z, sp.hyper([1, sp.Rational(1, 3)], [2], z)),
                                 Rel(z, Tex("0", ()), note=Tex("(W_1^\\top)", ("W1",)))]),
                  Equation("f", Rel(W.T, W))],
                 [Sym("z", "z", "an argument"), Sym(r"W(\d)", "W_{#1}", "a matrix",
                                                     generic="W_l")])
    tex = render(model)
    assert r"{}_{2}F_{1}\left(\frac{1}{3}, 1; 2; z\right)" in tex
    assert r"W_{1}^{\top} = W_{1}" in tex


@settings(max_examples=60, deadline=None)
@given(a=st.integers(1, 9), b=st.integers(1, 9), c=st.integers(-9, 9).filter(bool),
       d=st.integers(1, 9), e=st.integers(1, 9), n=st.integers(1, 3))
def test_positive_form_keeps_the_value_and_flips_signs(a, b, c, d, e, n):
    x, y = sp.symbols("x y", positive=True)
    expr = c * x * (a * x - b) ** n / (d * (e * y - 1))
    out = positive_form(expr)
    assert sp.simplify(out.doit() - expr) == 0
    tex = sp.latex(out)
    # every sum factor opens with its positive constant term
    assert not re.search(r"\\left\(-", tex), tex
