"""Every bad command-line input: one line naming the parameter and what is allowed, exit 2,
no traceback, and nothing run or written."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from validate.cli import main


def _run(capsys, argv):
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's own usage errors
        code = e.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _assert_one_line_error(err: str, *needles: str) -> None:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("learndyn: error:"), err
    for n in needles:
        assert n in lines[0], (n, err)


BAD_PARAMS = [
    # (experiment, --param, words the message must contain)
    ("lms", "dim=abc", ["'dim'", "integer >= 1", "'abc'"]),
    ("lms", "dim=0", ["'dim'", "integer >= 1", "'0'"]),
    ("lms", "dim=-3", ["'dim'", "integer >= 1"]),
    ("lms", "dim=5.7", ["'dim'", "integer"]),
    ("lms", "fractions=1.5", ["'fractions'", "(0, 1)"]),
    ("lms", "fractions=abc", ["'fractions'", "numbers"]),
    ("lms", "fractions=0.1,,0.2", ["'fractions'", "empty entry"]),
    ("lms", "lambda_min=-1", ["'lambda_min'", "(0, inf)"]),
    ("lms", "lambda_min=0", ["'lambda_min'", "(0, inf)"]),
    ("lms", "lambda_min=3", ["lambda_min", "lambda_max"]),
    ("lms", "points=0", ["'points'", "integer >= 1"]),
    ("lms", "replicas=1", ["'replicas'", "integer >= 2"]),
    ("lms", "noise_var=inf", ["'noise_var'", "not finite"]),
    ("lms", "gama=0.1", ["no parameter 'gama'", "dim"]),
    ("lms", "dim", ["NAME=VALUE"]),
    ("perceptron-learning-curves", "lr=0", ["'lr'", "(0, 1)"]),
    ("perceptron-learning-curves", "lr=nan", ["'lr'", "not finite"]),
    ("perceptron-learning-curves", "sigmoid=tanh", ["'sigmoid'", "erf, logistic"]),
    ("perceptron-forgetting", "orthogonal_tasks=maybe", ["'orthogonal_tasks'", "true or false"]),
    ("perceptron-digits", "positive=0", ["negative and positive"]),
    ("perceptron-digits", "idx_images=/no/such/file", ["idx_images", "idx_labels"]),
    ("deep-linear-exercise2", "lr=0", ["'lr'", "(0, inf)"]),
    ("deep-linear-exercise2", "small_lrs=0.1", ["'small_lrs'", "2 to 2 values"]),
    ("deep-linear-depth", "depths=1,x", ["'depths'", "integers"]),
]


@pytest.mark.parametrize("name,param,needles", BAD_PARAMS,
                         ids=[f"{n}:{p}" for n, p, _ in BAD_PARAMS])
def test_bad_param_is_one_line_and_exit_2(capsys, tmp_path, name, param, needles):
    out = tmp_path / "run"
    code, stdout, err = _run(capsys, ["validate", name, "--param", param, "--out", str(out),
                                      "--quiet"])
    assert code == 2
    _assert_one_line_error(err, *needles)
    assert not out.exists()  # checked before any work or any folder


def test_bad_seed_and_unknown_names(capsys):
    with pytest.raises(SystemExit) as e:
        main(["validate", "lms", "--seed", "-1"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--seed" in err and "integer >= 0" in err
    code, _, err = _run(capsys, ["validate", "no-such"])
    assert code == 2
    _assert_one_line_error(err, "unknown experiment 'no-such'", "lms")
    code, _, err = _run(capsys, ["describe", "no-such"])
    assert code == 2 and "unknown experiment" in err


def test_out_is_checked_before_the_run(capsys, tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    code, stdout, err = _run(capsys, ["validate", "lms", "--quick", "--out", str(a_file)])
    assert code == 2 and stdout == ""
    _assert_one_line_error(err, "--out", "not a folder")
    code, stdout, err = _run(capsys, ["validate", "lms", "--quick", "--out",
                                      str(a_file / "sub")])
    assert code == 2 and stdout == ""
    _assert_one_line_error(err, "--out", "not a folder")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_out_is_refused(capsys, tmp_path):  # pragma: no cover - not as root
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    code, _, err = _run(capsys, ["validate", "lms", "--quick", "--out", str(ro / "x")])
    assert code == 2
    _assert_one_line_error(err, "not writable")


def test_describe_lists_types_ranges_and_defaults(capsys):
    code, out, _ = _run(capsys, ["describe", "lms"])
    assert code == 0
    assert "fractions" in out and "numbers in (0, 1)" in out and "default 0.05,0.2,0.5" in out
    assert "replicas" in out and "quick 300" in out
    code, out, _ = _run(capsys, ["list", "lms", "--json"])
    rows = {r["name"]: r for r in json.loads(out)["parameters"]}
    assert rows["dim"]["allowed"] == "an integer >= 1" and rows["dim"]["default"] == "20"


def test_sweep_refuses_bad_values_before_making_a_folder(capsys, tmp_path):
    out = tmp_path / "sw"
    code, _, err = _run(capsys, ["sweep", "lms", "--grid", "dim=5.7,6", "--out", str(out)])
    assert code == 2 and not out.exists()
    _assert_one_line_error(err, "'dim'", "integer", "5.7")
    code, _, err = _run(capsys, ["sweep", "lms", "--grid", "fractions=0.5|2.0", "--out",
                                 str(out)])
    assert code == 2 and not out.exists()
    _assert_one_line_error(err, "'fractions'")
    code, _, err = _run(capsys, ["sweep", "no_such_module:f", "--grid", "a=1", "--out",
                                 str(out)])
    assert code == 2 and not out.exists()
    _assert_one_line_error(err, "no_such_module")
    code, _, err = _run(capsys, ["sweep", "lms", "--grid", "dim=3", "--replicates", "0"])
    assert code == 2 and "--replicates" in err


def test_sweep_refuses_a_folder_holding_another_grid(capsys, tmp_path):
    out = tmp_path / "sw"
    args = ["sweep", "sweep_targets:counted", "--param", f"log={tmp_path / 'l'}",
            "--executor", "serial", "--out", str(out), "--quiet"]
    assert main([*args, "--grid", "x=0,1"]) == 0
    capsys.readouterr()
    code, _, err = _run(capsys, [*args, "--grid", "x=0,1,2"])
    assert code == 2
    _assert_one_line_error(err, "different sweep", "--force")
    assert main([*args, "--grid", "x=0,1,2", "--force"]) == 0


REPORT_CASES = {
    "truncated": lambda p: p.write_text('{"experiment": "lms", "passed": tr'),
    "binary": lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe"),
    "empty": lambda p: p.write_text(""),
    "wrong shape": lambda p: p.write_text("[1, 2, 3]"),
    "no seed": lambda p: p.write_text(json.dumps(
        {"experiment": "lms", "passed": True, "comparisons": [{"name": "a", "passed": True}]})),
    "no comparisons": lambda p: p.write_text(json.dumps(
        {"experiment": "lms", "passed": True, "comparisons": [], "seed": 0})),
    "seed as text": lambda p: p.write_text(json.dumps(
        {"experiment": "lms", "passed": True, "comparisons": [{"name": "a", "passed": True}],
         "seed": "0"})),
}


@pytest.mark.parametrize("case", sorted(REPORT_CASES))
def test_report_on_a_broken_report_json(capsys, tmp_path, case):
    REPORT_CASES[case](tmp_path / "report.json")
    code, _, err = _run(capsys, ["report", str(tmp_path)])
    assert code == 2
    _assert_one_line_error(err, "report.json")
    assert not (tmp_path / "report.md").exists()


def test_report_on_a_broken_manifest_and_missing_folder(capsys, tmp_path):
    (tmp_path / "manifest.json").write_text('{"format": "learndyn-sweep/1", "target": "x"}')
    code, _, err = _run(capsys, ["report", str(tmp_path)])
    assert code == 2
    _assert_one_line_error(err, "manifest.json", "missing field")
    (tmp_path / "manifest.json").write_text('{"format": "something-else"}')
    code, _, err = _run(capsys, ["report", str(tmp_path)])
    _assert_one_line_error(err, "not a learndyn sweep manifest")
    code, _, err = _run(capsys, ["report", str(tmp_path / "nope")])
    assert code == 2
    _assert_one_line_error(err, "no such folder")


@pytest.mark.parametrize("command", ["report", "calibrations"])
def test_output_file_is_checked_before_reading(capsys, tmp_path, command):
    """``--output`` of ``report`` and ``calibrations`` names a file: a folder, or a file in a
    folder that does not exist, is refused by name before anything is read or rendered."""
    target = str(tmp_path / "no-such-input")  # never read: the output is checked first
    code, _, err = _run(capsys, [command, target, "--output", str(tmp_path)])
    assert code == 2
    _assert_one_line_error(err, "--output", "is a folder")
    missing = tmp_path / "absent" / "table.md"
    code, _, err = _run(capsys, [command, target, "--output", str(missing)])
    assert code == 2
    _assert_one_line_error(err, "--output", "does not exist")
    assert not missing.parent.exists()


def test_figures_never_mixes_a_quick_gallery_into_a_full_one(capsys, tmp_path):
    gal = tmp_path / "figures"
    gal.mkdir()
    (gal / "gallery.json").write_text(json.dumps({"quick": False, "seed": 0, "entries": []}))
    code, _, err = _run(capsys, ["figures", "--out", str(gal), "--quick", "--only", "lms"])
    assert code == 2
    _assert_one_line_error(err, "full-run gallery", "--force")
    assert json.loads((gal / "gallery.json").read_text())["quick"] is False


def test_no_traceback_from_the_console_script(tmp_path):
    res = subprocess.run([sys.executable, "-m", "validate.cli", "validate", "lms", "--param",
                          "dim=abc", "--out", str(tmp_path / "o")], capture_output=True,
                         text=True, cwd=Path(__file__).resolve().parents[1])
    assert res.returncode == 2
    assert "Traceback" not in res.stderr and res.stderr.count("\n") == 1
    debug = subprocess.run([sys.executable, "-m", "validate.cli", "--debug", "validate", "lms",
                            "--param", "dim=abc"], capture_output=True, text=True,
                           cwd=Path(__file__).resolve().parents[1])
    assert "Traceback" in debug.stderr and "ParameterError" in debug.stderr


def test_forgetting_refuses_settings_outside_the_theory_everywhere():
    from validate.params import ParameterError
    from validate.registry import resolve_params

    with pytest.raises(ParameterError, match="max_noise"):
        resolve_params("perceptron-forgetting-paper", {"sigmas": "2.0"})
    resolve_params("perceptron-forgetting-paper", {"sigmas": "0.1,2.0"})  # one judged: fine
