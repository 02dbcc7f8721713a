"""``learndyn sweep | figures | report`` and the figure formats of validate.plotting."""

from __future__ import annotations

import csv
import json

import pytest

from validate import registry
from validate.cli import main
from validate.cli_sweep import parse_grid, parse_value
from validate.compare import compare
from validate.plotting import default_formats, figure_formats, new_figure, save_figure

LMS_SMALL = ["--param", "replicas=40", "--param", "window_factor=1.0", "--param",
             "fractions=0.5", "--param", "points=6"]


def test_parse_values_and_grids():
    assert parse_value("3") == 3 and parse_value("-2") == -2
    assert parse_value("0.5") == 0.5 and parse_value("1e-3") == 1e-3
    assert parse_value("true") is True and parse_value("False") is False
    assert parse_value("__import__('os')") == "__import__('os')"  # text, never evaluated
    assert parse_grid(["a=1,2,3", "b=x,y"]) == [("a", [1, 2, 3]), ("b", ["x", "y"])]
    assert parse_grid(["g=log:0.01:1:3"]) == [("g", pytest.approx([0.01, 0.1, 1.0]))]
    assert parse_grid(["t=lin:0:1:5"])[0][1] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert parse_grid(["fractions=0.05,0.2|0.5"]) == [("fractions", ["0.05,0.2", 0.5])]
    for bad in (["a"], ["a="], ["g=log:0:1:3"]):
        with pytest.raises(ValueError):
            parse_grid(bad)


def test_cli_sweep_of_an_experiment_then_report(tmp_path, capsys):
    out = tmp_path / "sw"
    code = main(["sweep", "lms", "--grid", "dim=3,4", "--replicates", "2", *LMS_SMALL,
                 "--quick", "--executor", "serial", "--seed", "1", "--out", str(out),
                 "--quiet"])
    assert code == 0, capsys.readouterr()
    assert "4 ok, 0 errors, 0 missing of 4 points" in capsys.readouterr().out
    with open(out / "table.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["dim"], r["replicate"]) for r in rows] == [("3", "0"), ("3", "1"), ("4", "0"),
                                                          ("4", "1")]
    assert {"passed", "cmp0.max_abs_z", "cmp1.rel_err", "extra.stability_bound"} <= set(rows[0])
    man = json.loads((out / "manifest.json").read_text())
    assert man["target"] == "experiment:lms" and man["quick"] is True
    assert man["fixed_params"]["replicas"] == 40 and man["seed"] == 1
    # the same command again recomputes nothing
    assert main(["sweep", "lms", "--grid", "dim=3,4", "--replicates", "2", *LMS_SMALL,
                 "--quick", "--executor", "serial", "--seed", "1", "--out", str(out),
                 "--quiet"]) == 0
    assert "(0 computed, 4 reused)" in capsys.readouterr().out
    assert main(["report", str(out)]) == 0
    md = (out / "report.md").read_text()
    assert "# sweep of experiment:lms" in md and "| dim | ok |" in md and "2/2" in md
    # a figure per varying output, none for a constant column (every run passed)
    assert "![sweep_cmp0.max_abs_z.png](sweep_cmp0.max_abs_z.png)" in md
    assert (out / "sweep_cmp0.max_abs_z.png").stat().st_size > 5_000
    assert not (out / "sweep_passed.png").exists()


def test_cli_sweep_usage_errors(tmp_path, capsys):
    out = str(tmp_path / "x")
    assert main(["sweep", "nope", "--grid", "a=1", "--out", out]) == 2
    assert main(["sweep", "lms", "--grid", "nope=1", "--out", out]) == 2
    assert main(["sweep", "lms", "--out", out]) == 2
    assert main(["sweep", "lms", "--grid", "dim", "--out", out]) == 2
    assert main(["sweep", "lms", "--grid", "dim=3", "--executor", "serial", "--address",
                 "tcp://127.0.0.1:1", "--out", out]) == 2
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown experiment" in err and "no parameter" in err and "NAME=V1" in err


def test_validate_run_report(tmp_path, capsys):
    assert main(["validate", "lms", "--quick", *LMS_SMALL, "--out", str(tmp_path),
                 "--quiet"]) == 0
    assert main(["report", str(tmp_path), "--output", str(tmp_path / "summary.md")]) == 0
    md = (tmp_path / "summary.md").read_text()
    assert md.startswith("# lms: PASSED")
    assert "| comparison | points | kind | max abs z | bound | nominal level |" in md
    assert "agree" in md and "None" not in md
    assert "Reproduce: `learndyn validate lms --seed 0 --quick --param replicas=40" in md
    assert "![lms](lms.png)" in md and "learndyn validate lms --seed 0" in md
    import json
    import re

    rep = json.loads((tmp_path / "report.json").read_text())
    assert rep["elapsed_s"] > 0 and rep["cpu_count"] >= 1
    assert re.search(r"Wall time: \d+\.\d s on a machine with \d+ cores", md)


def test_figures_gallery_png_and_pdf(tmp_path, capsys, monkeypatch):
    out = tmp_path / "figures"
    code = main(["figures", "--out", str(out), "--quick", "--only", "lms", "--formats",
                 "png,pdf", "--workers", "2", "--quiet"])
    assert code == 0, capsys.readouterr()
    assert (out / "lms.png").stat().st_size > 10_000
    assert (out / "lms.pdf").read_bytes()[:5] == b"%PDF-"
    readme = (out / "README.md").read_text()
    assert "![lms: lms](lms.png)" in readme and "[lms.pdf](lms.pdf)" in readme
    assert "quick mode" in readme and "**passed**" in readme
    gallery = json.loads((out / "gallery.json").read_text())
    assert gallery["entries"][0]["figures"] == ["lms.png", "lms.pdf"]
    assert json.loads((out / "reports" / "lms.json").read_text())["passed"] is True
    assert not [p for p in out.iterdir() if p.name.startswith(".run-")]
    assert main(["report", str(out)]) == 0  # a gallery folder renders its index

    # a broken experiment is reported and does not stop the others
    def broken(config):
        raise RuntimeError("deliberately broken")

    monkeypatch.setitem(registry._EXPERIMENTS, "zz-broken",
                        registry.Experiment("zz-broken", "raises", broken, {}))
    assert main(["figures", "--out", str(tmp_path / "g2"), "--only", "zz-broken",
                 "--quiet"]) == 1
    readme = (tmp_path / "g2" / "README.md").read_text()
    assert "**error**" in readme and "deliberately broken" in readme
    assert main(["figures", "--out", str(tmp_path / "g3"), "--only", "nope"]) == 2


def test_figures_only_keeps_the_rest_of_an_existing_gallery(tmp_path, monkeypatch):
    """Regenerating one experiment with --only updates its entry; the other entries (same
    quick/seed) stay in the index; other settings replace the index."""
    def fake(name, passed):
        def run(config):
            fig, _ = new_figure(1, 1)
            figs = save_figure(fig, config.out_dir, name.replace("-", "_"))
            c = compare("c", [1.0], [1.0 if passed else 9.0], [0.1])
            return registry.ExperimentResult(name, (c,), config.seed, tuple(figs), {}, {})
        return registry.Experiment(name, "fake " + name, run, {})

    for name in ("zz-a", "zz-b"):
        monkeypatch.setitem(registry._EXPERIMENTS, name, fake(name, True))
    out = tmp_path / "g"
    assert main(["figures", "--out", str(out), "--quick", "--only", "zz-a", "--only", "zz-b",
                 "--quiet"]) == 0
    monkeypatch.setitem(registry._EXPERIMENTS, "zz-b", fake("zz-b", False))
    assert main(["figures", "--out", str(out), "--quick", "--only", "zz-b", "--quiet"]) == 1
    entries = {e["experiment"]: e for e in json.loads((out / "gallery.json").read_text())
               ["entries"]}
    assert set(entries) == {"zz-a", "zz-b"}
    assert entries["zz-a"]["passed"] is True and entries["zz-b"]["passed"] is False
    readme = (out / "README.md").read_text()
    assert "zz_a.png" in readme and "zz_b.png" in readme
    # another seed: refused (never mixed) unless --force, which replaces the index
    assert main(["figures", "--out", str(out), "--quick", "--seed", "3", "--only", "zz-a",
                 "--quiet"]) == 2
    assert main(["figures", "--out", str(out), "--quick", "--seed", "3", "--only", "zz-a",
                 "--quiet", "--force"]) == 0
    assert [e["experiment"] for e in json.loads((out / "gallery.json").read_text())
            ["entries"]] == ["zz-a"]


def test_save_figure_formats(tmp_path, monkeypatch):
    fig, axes = new_figure()
    axes[0, 0].plot([0, 1], [0, 1])
    assert default_formats() == ("png",)
    with figure_formats("png,pdf"):
        paths = save_figure(fig, tmp_path, "a")
    assert [p.rsplit(".", 1)[1] for p in paths] == ["png", "pdf"]
    monkeypatch.setenv("LEARNDYN_FIGURE_FORMATS", "svg")
    assert default_formats() == ("svg",)
    fig, _ = new_figure()
    assert save_figure(fig, tmp_path, "b", formats=("pdf",))[0].endswith("b.pdf")
    with pytest.raises(ValueError, match="figure formats"):
        save_figure(fig, tmp_path, "c", formats=("gif",))
