"""``learndyn calibrations``: stored calibrations as one markdown table; bad files are a
one-line error naming the file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from validate.calibrate import summarize_points
from validate.calibration_table import HEADER, calibration_table, load_calibration
from validate.cli import main
from validate.errors import InputError


def _records(fail_a: int, runs: int = 100):
    def rec(i):
        return {"status": "ok", "scalars": {
            "n_comparisons": 2, "cmp0.name": "a", "cmp0.kind": "statistical",
            "cmp0.level": 0.01, "cmp0.passed": i >= fail_a, "cmp1.name": "b",
            "cmp1.kind": "tolerance", "cmp1.level": float("nan"), "cmp1.passed": True},
            "arrays_data": {"cmp0.z": np.array([0.2 + 0.01 * i, -0.1]),
                            "cmp1.z": np.array([0.1])}}
    return [rec(i) for i in range(runs)]


def _write(tmp_path, name, cal) -> str:
    d = tmp_path / name
    d.mkdir()
    (d / "calibration.json").write_text(json.dumps(cal.to_dict()))
    return str(d)


def test_rows_modes_and_order(tmp_path, capsys):
    quick = summarize_points("exp-b", _records(1), quick=True, seeds=100, params={})
    full = summarize_points("exp-b", _records(30), quick=False, seeds=100, params={})
    dim3 = summarize_points("exp-b", _records(2), quick=True, seeds=100, params={"dim": "3"},
                            root_seed=1)
    other = summarize_points("exp-a", _records(0), quick=True, seeds=100, params={})
    paths = [_write(tmp_path, n, c) for n, c in
             (("q", quick), ("f", full), ("d", dim3), ("o", other))]
    assert main(["calibrations", *paths]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "| " + " | ".join(HEADER) + " |"
    assert [ln.split(" | ")[0] for ln in lines[2:]] == [
        "| exp-a (quick)", "| exp-b (defaults)", "| exp-b (quick)",
        "| exp-b (quick, dim=3, root seed 1)"]
    # 30 failures of 100 at a 1% level (acceptance 0..5 at the Sidak confidence of two
    # tests): not calibrated; the tolerance check is counted apart
    assert lines[3].split(" | ")[2:5] == ["NOT CALIBRATED", "30/100 (0..5)",
                                          "30/100; +1 tolerance check"]
    assert lines[4].split(" | ")[2] == "CALIBRATED"
    # the mean z of comparison a: seed means 0.05 + 0.005 i averaged over 100 seeds
    assert lines[4].split(" | ")[5] == "+0.30 .. +0.30 |"
    assert dim3.command == "learndyn calibrate exp-b --quick --seeds 100 --seed 1 --param dim=3"


def test_output_file(tmp_path, capsys):
    path = _write(tmp_path, "q", summarize_points("x", _records(0), quick=True, seeds=100,
                                                  params={}))
    out = tmp_path / "table.md"
    assert main(["calibrations", path, "--output", str(out)]) == 0
    assert out.read_text().startswith("| experiment (mode) |")
    assert main(["calibrations", path, "--output", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err


@pytest.mark.parametrize("content,match", [
    (None, "no such file"),
    ("", "empty file"),
    ('{"experiment": "x", "quick": tr', "not valid JSON"),
    ("[1, 2]", "JSON object"),
    ('{"experiment": "x"}', "missing field 'quick'"),
])
def test_bad_files_are_named(tmp_path, capsys, content, match):
    f = tmp_path / "calibration.json"
    if content is not None:
        f.write_text(content)
    assert main(["calibrations", str(f)]) == 2
    err = capsys.readouterr().err
    assert match in err and str(f) in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("field,value,match", [
    ("runs", True, "wrong type"),
    ("combined_acceptance_interval", [1], "two integers"),
    ("root_seed", -1, "root_seed"),
    ("comparisons", [3], "not an object"),
    ("comparisons", [{"name": "a", "kind": "other", "runs": 1, "failures": 0}], "kind"),
    ("comparisons", [{"name": "a", "kind": "statistical", "runs": 1, "failures": 0,
                      "mean_z": "x"}], "mean_z"),
])
def test_wrong_shaped_calibrations_are_refused(tmp_path, field, value, match):
    cal = summarize_points("x", _records(0), quick=True, seeds=100, params={}).to_dict()
    cal[field] = value
    f = tmp_path / "calibration.json"
    f.write_text(json.dumps(cal))
    with pytest.raises(InputError, match=match):
        load_calibration(f)


def test_files_without_root_seed_read_as_root_seed_0(tmp_path):
    cal = summarize_points("x", _records(0), quick=False, seeds=100, params={}).to_dict()
    del cal["root_seed"], cal["command"]
    f = tmp_path / "calibration.json"
    f.write_text(json.dumps(cal))
    assert "| x (defaults) | 100 | CALIBRATED |" in calibration_table([load_calibration(f)])
