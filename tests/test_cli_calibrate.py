"""``learndyn calibrate`` end to end on a tiny LMS run: the table, calibration.json, the
figure, resuming, and the family-wise (Šidák) acceptance intervals."""

from __future__ import annotations

import json

from validate.calibrate import family_confidence
from validate.cli import main

LMS_SMALL = ["--param", "replicas=40", "--param", "window_factor=1.0", "--param",
             "fractions=0.5", "--param", "points=6"]


def test_cli_calibrate_small(tmp_path, capsys, monkeypatch):
    out = tmp_path / "cal"
    args = ["calibrate", "lms", "--quick", "--seeds", "3", *LMS_SMALL, "--executor", "serial",
            "--out", str(out), "--quiet"]
    code = main(args)
    text = capsys.readouterr().out
    assert code in (0, 1)  # 3 seeds decide nothing; the machinery is what is tested
    assert "calibration of lms (quick): 3 seeds" in text and "s per seed" in text
    assert "tests together (Sidak)" in text
    cal = json.loads((out / "calibration.json").read_text())
    stat = [c for c in cal["comparisons"] if c["kind"] == "statistical"]
    assert stat and cal["runs"] == 3 and cal["seconds_per_seed"] > 0
    assert cal["test_confidence"] == family_confidence(len(stat) + 1)
    assert all(c["acceptance_interval"][0] == 0 for c in stat)
    assert (out / "calibration.png").stat().st_size > 10_000
    assert cal["root_seed"] == 0
    assert cal["command"] == ("learndyn calibrate lms --quick --seeds 3 --seed 0 "
                              + " ".join(LMS_SMALL))
    # the stored calibration as a table row
    capsys.readouterr()
    assert main(["calibrations", str(out)]) == 0
    row = capsys.readouterr().out.splitlines()[2]
    assert row.startswith("| lms (quick, replicas=40, window_factor=1.0, fractions=0.5, "
                          "points=6) | 3 | ")
    # resuming computes nothing new and gives the same numbers
    assert main(args) == code
    again = json.loads((out / "calibration.json").read_text())
    assert again["comparisons"] == cal["comparisons"]
    # the code that computed each seed is recorded; reusing seeds of other code is flagged
    from validate import sweep as sweep_module

    assert cal["code"] == {sweep_module.code_identity(): 3} and cal["reused_other_code"] == 0
    capsys.readouterr()
    monkeypatch.setattr(sweep_module, "code_identity", lambda: "learndyn 9.9 @ edited")
    assert main(args) == code
    err = capsys.readouterr().err
    assert "warning: 3 of the seeds reused from the stored sweep were computed by other code" \
        in err
    assert json.loads((out / "calibration.json").read_text())["reused_other_code"] == 3


def test_cli_calibrate_bad_input_is_one_line(tmp_path, capsys):
    assert main(["calibrate", "lms", "--seeds", "1", "--out", str(tmp_path / "c")]) == 2
    assert main(["calibrate", "lms", "--param", "dim=0", "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "seeds" in err and "dim" in err
