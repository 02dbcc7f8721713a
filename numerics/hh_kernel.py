r"""Compiled (numba) integration loops for populations of Hodgkin–Huxley cells, cached on disk.

A kernel module is *generated*: the scalar cell functions lambdified from the SymPy
right-hand side (:func:`numerics.hh_codegen.numba_cell_source`), five compile-time flags,
and the loops of :mod:`numerics.hh_loops` (a template).  Its text is written to the kernel
cache (``$LEARNDYN_CACHE_DIR``, else ``~/.cache/learndyn/hh-kernels``) under the name
``hh_<sha256 of the text>.py`` and imported; every function is ``numba.njit(cache=True)``, so
numba compiles a loop on its first call on a machine and later processes load the machine
code (as Brian2 caches its generated code).  A change of the theory, the constants or the
loops changes the text, hence the file: stale code is never loaded.

Layout: ``B`` independent networks (parameter sets x trials, flattened) of ``N`` cells; state
arrays have shape ``(B, N)``.  Two loops:

* ``block_independent`` (no recurrent synapses): cells in groups of 32, time outer and cells
  inner, so the step compiles to SIMD code over the cells (the fast path, about 2.5e-8 s per
  cell-step on one AVX-512 core; the ``exp`` is :func:`numerics.fast_exp.exp`, vectorisable),
  specialised at compile time for the method, noise, inputs, recording and the output
  variable;
* ``block_coupled``: networks in groups of 32 (SIMD over networks), time outer, the synaptic
  current :math:`\sum_j W_{ij}s_j` recomputed at every RK4 stage (exact RK4 of the coupled
  system); 4.5x faster than one network at a time, bit-identical to it.

Noise arrays: ``(G, N, K)`` for the independent loop (time contiguous) and ``(G, K, N)`` for
the coupled loop; the same numbers either way (the caller transposes).  Per step ``k`` the
external current of cell ``i`` in network ``b`` (parameter set ``p``, noise stream ``g``) is
held constant over the step (all RK4 stages):

.. math:: I_{b,i,k} = I^{ext}_{p,i} + \sum_j W^{in}_{p,i,j} x_{k,j}
          + \sigma_{p,i}\, z_{g,i,k}/\sqrt{dt},\qquad z \sim N(0,1).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
from functools import lru_cache
from importlib import resources
from pathlib import Path

from numerics.hh_codegen import numba_cell_source
from theory.hh import DEFAULT_CONSTANTS, HHConstants

__all__ = ["RK4", "EXPEULER", "kernels", "Loops", "V_DIVERGED", "cache_dir", "kernel_source",
           "split_template", "load_kernel_module"]

RK4 = 0
EXPEULER = 1
#: |V| (mV) beyond which a simulation is declared diverged
V_DIVERGED = 1000.0
_BEGIN = "# ---- generated part: replaced by numerics.hh_kernel"
_END = "# ---- end of the generated part ----"


def cache_dir() -> Path:
    """Where generated kernel modules (and numba's cache beside them) live."""
    env = os.environ.get("LEARNDYN_CACHE_DIR")
    base = Path(env) if env else Path.home() / ".cache" / "learndyn" / "hh-kernels"
    try:
        base.mkdir(parents=True, exist_ok=True)
        probe = base / f".probe-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
        return base
    except OSError:
        alt = Path(tempfile.gettempdir()) / f"learndyn-hh-kernels-{os.getuid()}"
        alt.mkdir(parents=True, exist_ok=True)
        return alt


def split_template(filename: str, begin: str) -> tuple[str, str]:
    """``(head, loops)`` of the loop template ``numerics/<filename>``: the text before the
    line starting ``begin`` and the text after the generated part's end marker."""
    template = resources.files("numerics").joinpath(filename).read_text()
    head, rest = template.split(begin, 1)
    return head, rest.split(_END, 1)[1]


def kernel_source(constants: HHConstants, method: int, noise: bool, inputs: bool,
                  record: bool, output: bool) -> str:
    """The text of one kernel module: imports, generated cell functions, flags, loops."""
    head, loops = split_template("hh_loops.py", _BEGIN)
    flags = (f"METHOD = {int(method)}\nNOISE = {bool(noise)}\nINPUTS = {bool(inputs)}\n"
             f"RECORD = {bool(record)}\nOUTPUT = {bool(output)}\n")
    return (head + "# ---- generated cell functions and flags ----\n"
            + numba_cell_source(constants) + "\n\n" + flags + loops)


def load_kernel_module(source: str, stem: str = "hh"):
    """Import the generated kernel module ``source``: written once to the kernel cache as
    ``<stem>_<hash>.py`` (atomically) and imported as ``learndyn_<stem>_<hash>``, so numba's
    on-disk cache of its compiled loops is found again by later processes."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:24]
    name = f"learndyn_{stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    path = cache_dir() / f"{stem}_{digest}.py"
    if not path.exists() or path.read_text() != source:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(source)
        os.replace(tmp, path)  # atomic: concurrent processes write the same text
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class Loops:
    """The loops of one set of constants, each compiled (or loaded from numba's cache) on first
    use.  ``independent(method, noise, inputs, record, output)`` returns the specialised
    independent loop; ``coupled(method, ...)`` runs the coupled loop (method at run time)."""

    def __init__(self, constants: HHConstants):
        self.constants = constants

    def independent(self, method: int, noise: bool, inputs: bool, record: bool,
                    output: bool = True):
        return load_kernel_module(kernel_source(self.constants, method, noise, inputs, record,
                                   output)).block_independent

    def coupled(self, *args):
        return load_kernel_module(kernel_source(self.constants, RK4, False, False, False,
                                   True)).block_coupled(*args)


@lru_cache(maxsize=8)
def kernels(constants: HHConstants = DEFAULT_CONSTANTS) -> Loops:
    """The :class:`Loops` for ``constants``."""
    return Loops(constants)
