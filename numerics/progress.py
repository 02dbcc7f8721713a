"""Progress bars (tqdm) that stay silent when asked to or when not on a terminal."""

from __future__ import annotations

import os
import sys

from tqdm.auto import tqdm

__all__ = ["progress_bar", "set_quiet", "is_quiet"]

_QUIET = [False]


def set_quiet(quiet: bool = True) -> None:
    """Silence (or re-enable) every learndyn progress bar in this process."""
    _QUIET[0] = bool(quiet)


def is_quiet() -> bool:
    """True when bars are off: ``set_quiet``, ``LEARNDYN_QUIET=1``, or stderr not a terminal."""
    if _QUIET[0] or os.environ.get("LEARNDYN_QUIET", "") not in ("", "0"):
        return True
    return not (hasattr(sys.stderr, "isatty") and sys.stderr.isatty())


def progress_bar(total=None, desc: str = "", unit: str = "it", disable: bool | None = None, **kw):
    """A tqdm bar showing done/total, rate and ETA; disabled when :func:`is_quiet`."""
    off = is_quiet() if disable is None else disable
    return tqdm(total=total, desc=desc, unit=unit, disable=off,
                leave=False, dynamic_ncols=True, **kw)
