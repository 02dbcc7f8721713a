"""The learndyn command line: list, latex, validate (report.json contract)."""

import json
import subprocess
import sys

import pytest

from validate.cli import main


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert "learndyn 0." in capsys.readouterr().out


def test_list_json(capsys):
    assert main(["list", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"experiments", "models"}
    assert "lms" in data["experiments"] and "lms" in data["models"]


def test_latex_lms(capsys):
    assert main(["latex", "lms"]) == 0
    out = capsys.readouterr().out
    assert "\\begin{align*}" in out and "\\gamma" in out


def test_unknown_names_exit_2(capsys):
    assert main(["latex", "nope"]) == 2
    assert main(["validate", "nope"]) == 2
    assert "unknown" in capsys.readouterr().err


def test_validate_lms_quick_writes_report(tmp_path, capsys):
    code = main(["validate", "lms", "--quick", "--seed", "3", "--out", str(tmp_path), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0, out
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["experiment"] == "lms" and report["passed"] is True and report["seed"] == 3
    assert {"numpy", "scipy", "sympy", "learndyn"} <= set(report["versions"])
    assert len(report["comparisons"]) == 6
    for c in report["comparisons"]:
        assert {"name", "max_abs_z", "rel_err", "passed"} <= set(c)
        assert c["max_abs_z"] < c["bound"]
    assert (tmp_path / "lms.png").stat().st_size > 10_000
    assert "PASSED" in out


def test_console_script_entry_point():
    res = subprocess.run([sys.executable, "-m", "validate.cli", "list", "--json"],
                         capture_output=True, text=True, check=True)
    assert "lms" in json.loads(res.stdout)["experiments"]
