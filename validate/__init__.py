"""learndyn validate: experiments pairing theory with simulation, comparisons, reports, CLI."""

from importlib.metadata import PackageNotFoundError, version

try:  # one source of truth: the version in pyproject.toml, read from the installed metadata
    __version__ = version("learndyn")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
