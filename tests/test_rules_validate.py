"""validate.rules and the rule-* gallery experiments: one call from a rule's definition to a
verdict.

* ``check_rule`` on a user's rule passes, writes report, figure and LaTeX, and says which
  derivation path it took;
* a drift wrong by a factor 2 (the derived drift, doubled, monkeypatched into the check) makes
  ``check_rule`` and every gallery experiment fail;
* ``learndyn validate rule FILE.py:NAME`` runs a user's file end to end and names each bad
  input (missing file, missing name, not a rule, a file that fails to import);
* every gallery experiment passes quick at seed 0 (slow: ~30 s together) and writes its figure.
"""

import json
from dataclasses import replace

import pytest
import sympy as sp

import validate.experiments.rules  # noqa: F401  (registers the rule-* experiments)
import validate.rules as vr
from theory.rules import LearningRule, Normal
from validate.cli import main
from validate.errors import InputError
from validate.registry import RunConfig, run_experiment

GALLERY = ("rule-oja", "rule-hebb-decay", "rule-bcm", "rule-sign-lms")

#: settings that keep a doubled-drift run cheap (the shortened runs still resolve a factor 2)
CHEAP = {"rule-oja": {"replicas": 100, "t_end": 2.0},
         "rule-hebb-decay": {"replicas": 100, "t_end": 2.0},
         "rule-bcm": {"replicas": 100, "t_end": 1.0},
         "rule-sign-lms": {"replicas": 100, "t_end": 2.0}}

USER_RULE = '''
import sympy as sp
from theory.rules import LearningRule, Normal

w = sp.symbols("w0:2", real=True)
x = sp.symbols("x0:2", real=True)
c = sp.Symbol("c", positive=True)
y = w[0] * x[0] + w[1] * x[1]
decaying_hebb = LearningRule("decaying-hebb", w, [y * x[0] - c * w[0], y * x[1] - c * w[1]],
                             Normal(x, cov=[[1.0, 0.3], [0.3, 0.5]]), {c: 1.5},
                             defaults={"w0": (1.0, -0.5), "eta": 0.01, "t_end": 2.0})
not_a_rule = 3
'''


def _user_rule() -> LearningRule:
    w = sp.symbols("w0:2", real=True)
    x = sp.symbols("x0:2", real=True)
    c = sp.Symbol("c", positive=True)
    y = w[0] * x[0] + w[1] * x[1]
    return LearningRule("decaying-hebb", w, [y * x[0] - c * w[0], y * x[1] - c * w[1]],
                        Normal(x, cov=[[1.0, 0.3], [0.3, 0.5]]), {c: 1.5},
                        defaults={"w0": (1.0, -0.5), "eta": 0.01, "t_end": 2.0})


def _doubled_derive(monkeypatch):
    real = vr.derive

    def doubled(rule):
        d = real(rule)
        return replace(d, drift=sp.ImmutableMatrix(2 * d.drift))

    monkeypatch.setattr(vr, "derive", doubled)


def test_check_rule_passes_and_writes_report_figure_and_latex(tmp_path):
    check = vr.check_rule(_user_rule(), replicas=300, seed=0, out_dir=tmp_path, progress=False)
    assert check.passed, check.table()
    assert dict(check.derived.paths) == {"drift": "wick", "second_moment": "wick"}
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["passed"] is True
    assert (tmp_path / "derivation.tex").read_text().count(r"\begin{") >= 2
    assert any(f.endswith(".png") for f in check.result.figures)
    assert "PASSED" in check.table()


def test_check_rule_fails_when_the_drift_is_doubled(monkeypatch):
    _doubled_derive(monkeypatch)
    check = vr.check_rule(_user_rule(), replicas=300, seed=0, progress=False)
    assert not check.comparisons[0].passed, check.table()


@pytest.mark.parametrize("name", [
    "rule-oja", "rule-hebb-decay", "rule-sign-lms",
    pytest.param("rule-bcm", marks=pytest.mark.slow)])  # bcm recompiles its moment map: ~10 s
def test_every_gallery_experiment_fails_with_a_doubled_drift(monkeypatch, name):
    _doubled_derive(monkeypatch)
    res = run_experiment(name, RunConfig(seed=0, quick=True, params=CHEAP[name],
                                         figures=False, progress=False))
    stat = [c for c in res.comparisons if c.kind == "statistical"]
    assert not all(c.passed for c in stat), [(c.name, c.max_abs_z) for c in stat]


def test_cheap_settings_pass_with_the_true_drift():
    """The control for the doubled-drift tests: the same cheap settings pass unpatched."""
    for name in ("rule-oja", "rule-hebb-decay"):
        res = run_experiment(name, RunConfig(seed=0, quick=True, params=CHEAP[name],
                                             figures=False, progress=False))
        assert res.passed, [(c.name, c.max_abs_z, c.bound) for c in res.comparisons]


def test_cli_validates_a_rule_from_the_users_file(tmp_path, capsys):
    f = tmp_path / "my_rules.py"
    f.write_text(USER_RULE)
    out = tmp_path / "out"
    rc = main(["validate", "rule", f"{f}:decaying_hebb", "--quick", "--quiet",
               "--param", "c=1.2", "--param", "replicas=200", "--out", str(out)])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "rule decaying-hebb (drift by wick, second_moment by wick): PASSED" in text
    report = json.loads((out / "report.json").read_text())
    assert report["params"]["c"] == 1.2 and report["params"]["replicas"] == 200
    assert (out / "derivation.tex").is_file()


@pytest.mark.parametrize("target,message", [
    ("{d}/nofile.py:r", "rule file .*nofile.py does not exist"),
    ("{d}/my_rules.py:nope", r"defines no 'nope' \(rules it defines: decaying_hebb\)"),
    ("{d}/my_rules.py:not_a_rule", "not_a_rule is a int, not a theory.rules.LearningRule"),
    ("{d}/broken.py:r", "importing rule file .*broken.py failed: ZeroDivisionError"),
    ("{d}/my_rules.py", "expected FILE.py:NAME"),
])
def test_bad_rule_files_are_named(tmp_path, target, message):
    (tmp_path / "my_rules.py").write_text(USER_RULE)
    (tmp_path / "broken.py").write_text("r = 1 / 0\n")
    with pytest.raises(InputError, match=message):
        vr.load_rule(target.format(d=tmp_path))


def test_cli_reports_a_bad_rule_file_without_a_traceback(tmp_path, capsys):
    (tmp_path / "my_rules.py").write_text(USER_RULE)
    rc = main(["validate", "rule", f"{tmp_path}/my_rules.py:nope", "--quick"])
    assert rc == 2
    assert "defines no 'nope'" in capsys.readouterr().err


def test_rule_parameters_are_declared_and_checked(tmp_path):
    rule = _user_rule()
    p = vr.resolve_rule_params(rule, {"c": "0.7"}, quick=True)
    assert p["c"] == 0.7 and p["replicas"] == 400 and p["w0"] == (1.0, -0.5)
    with pytest.raises(ValueError, match="w0"):
        vr.resolve_rule_params(rule, {"w0": "1,2,3"})
    with pytest.raises(ValueError, match="Sigma_0_0, Sigma_0_1, Sigma_1_1"):
        run_experiment("rule-oja", RunConfig(quick=True, params={"Sigma_0_1": 5.0},
                                             figures=False, progress=False))


@pytest.mark.slow
@pytest.mark.parametrize("name", GALLERY)
def test_gallery_experiment_passes_quick_at_seed_0(tmp_path, name):
    res = run_experiment(name, RunConfig(seed=0, quick=True, out_dir=tmp_path, progress=False))
    assert res.passed, [(c.name, c.max_abs_z, c.bound, c.verdict) for c in res.comparisons]
    assert res.figures and all(f.endswith(".png") for f in res.figures[:1])


def test_the_readme_quick_start_rule_runs_and_passes(tmp_path, capsys):
    """The README's quick-start rule (a new rule in 12 lines, checked by one call) runs as
    written and prints a passing table and the LaTeX derivation."""
    import re
    import runpy
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    blocks = [b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "check_rule(" in b]
    assert len(blocks) == 1
    script = tmp_path / "quick_start_rule.py"
    script.write_text(blocks[0])
    runpy.run_path(str(script), run_name="__main__")
    out = capsys.readouterr().out
    assert "rule my-hebb: PASSED (derived by drift: wick, second_moment: wick)" in out
    assert r"\begin{align*}" in out and "Isserlis" in out


def test_rule_parameters_take_meaning_and_range_from_the_rules_symbols():
    """A positive SymPy symbol is declared > 0; the help text is the symbol table's meaning."""
    from validate.experiments.rules import SIGN
    from validate.params import ParameterError

    decl = vr.rule_params(SIGN)
    assert decl["s2"].gt == 0.0 and "output noise" in decl["s2"].help
    assert decl["R_0_1"].gt is None and decl["R_0_1"].ge is None  # real: any sign
    with pytest.raises(ParameterError, match=r"'s2' must be a number in \(0, inf\)"):
        vr.resolve_rule_params(SIGN, {"s2": "-1"})


def test_check_rule_on_the_re_expressed_lms_rule_prints_its_own_learning_rate():
    """LMS's learning rate is gamma (theory.lms): the derivation prints gamma, never an
    undefined eta, and the check passes."""
    from theory.rule_library import lms_rule

    params = {"R_0_0": 1.0, "R_0_1": 0.3, "R_1_1": 0.6, "wo0": 1.0, "wo1": -0.5, "s2": 0.2}
    check = vr.check_rule(lms_rule(2), w0=(0.0, 0.0), eta=0.02, t_end=3.0, params=params,
                          replicas=300, seed=0, progress=False)
    assert check.passed, check.table()
    assert r"w \leftarrow w + \gamma f" in check.latex and r"\eta" not in check.latex
