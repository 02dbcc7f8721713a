"""learndyn validate: experiments pairing theory with simulation, comparisons, reports, CLI."""

__version__ = "0.1.0"
