"""The error raised for bad user input anywhere in ``validate`` (parameters, folders, files).

The command line reports an :class:`InputError` as one line naming the input and what is
allowed, with exit status 2 and no traceback (``learndyn --debug`` shows it).
"""

from __future__ import annotations

__all__ = ["InputError"]


class InputError(ValueError):
    """Bad user input; the message names the input and the allowed values."""
