"""The README stays true: every ```python block in it runs as written (in a fresh
interpreter, from the repository root), and the CLI commands it shows exist."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)


def test_the_readme_has_python_examples():
    assert len(BLOCKS) >= 8


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_block_runs(index, tmp_path):
    code = BLOCKS[index]
    env = dict(os.environ, MPLBACKEND="Agg", LEARNDYN_QUIET="1",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"README block {index} failed:\n{code}\n{proc.stderr[-2000:]}"
    if "print(" in code:
        assert proc.stdout.strip(), f"README block {index} prints nothing"


def test_every_cli_subcommand_in_the_readme_exists():
    from validate.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    used = set(re.findall(r"^\s*learndyn ([a-z]+)", README, re.M))
    assert used and used <= set(sub.choices), used - set(sub.choices)


def test_the_cli_synopsis_lists_every_subcommand_and_flag():
    """The README's command-line block names every subcommand and every flag it takes."""
    from validate.cli import build_parser

    block = README[README.index("## Command line"):]
    block = block[block.index("```text"):block.index("```", block.index("```text") + 7)]
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    listed = set(re.findall(r"^learndyn ([a-z]+)", block, re.M))
    assert set(sub.choices) <= listed, set(sub.choices) - listed
    for name, p in sub.choices.items():
        for action in p._actions:
            for flag in action.option_strings:
                if flag.startswith("--") and flag != "--help":
                    assert flag in block, f"learndyn {name} {flag} is not in the synopsis"
