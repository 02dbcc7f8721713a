"""Executors for sweeps: serial, local processes, and Dask distributed.

An executor runs a top-level function over tasks and yields the results *as they
complete* (so the caller can store each point at once).  Tasks and results travel between
processes by the executor's own transport (pickle for :mod:`concurrent.futures`,
cloudpickle for Dask); nothing is pickled to disk.  Results never depend on the executor:
every task carries its own seed.

* :class:`SerialExecutor` - in this process, in order (debugging, tiny sweeps).
* :class:`ProcessExecutor` - :class:`concurrent.futures.ProcessPoolExecutor` with a
  ``forkserver`` (POSIX) or ``spawn`` start method, one worker per core by default.
  Workers ignore SIGINT; on Ctrl-C the parent cancels pending tasks and terminates them.
* :class:`DaskExecutor` - a ``dask.distributed`` client to a scheduler at ``address``
  (``tcp://HOST:PORT``) or to a :class:`distributed.LocalCluster` it starts and stops.
  Dask is imported only here, only when asked for (``pip install 'learndyn[dask]'``).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable, Iterable, Iterator

__all__ = ["Executor", "SerialExecutor", "ProcessExecutor", "DaskExecutor", "make_executor",
           "EXECUTORS", "WorkerLost"]

EXECUTORS = ("serial", "process", "dask")


class WorkerLost(RuntimeError):
    """A worker process died (killed, out of memory, crashed) while tasks were running."""


class Executor:
    """Run ``fn`` over ``tasks``; :meth:`imap_unordered` yields results as they complete."""

    name = "executor"
    workers = 1

    def imap_unordered(self, fn: Callable, tasks: Iterable) -> Iterator:
        raise NotImplementedError

    def close(self) -> None:
        """Release workers (idempotent)."""

    def describe(self) -> dict:
        return {"name": self.name, "workers": self.workers}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class SerialExecutor(Executor):
    """Run every task in this process, one after the other."""

    name = "serial"

    def imap_unordered(self, fn, tasks):
        for task in tasks:
            yield fn(task)


def _ignore_sigint() -> None:  # worker initializer: the parent handles Ctrl-C
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _default_context() -> str:
    methods = multiprocessing.get_all_start_methods()
    return "forkserver" if "forkserver" in methods else "spawn"


class ProcessExecutor(Executor):
    """Local worker processes (``concurrent.futures.ProcessPoolExecutor``).

    ``workers`` defaults to the number of usable cores; ``context`` to ``forkserver``
    where available, else ``spawn`` (never plain ``fork``, which copies the parent's
    threads and locks).  Functions must be importable (module-level).
    """

    name = "process"

    def __init__(self, workers: int | None = None, context: str | None = None):
        from numerics.checks import as_int

        self.workers = as_int(workers, "workers", 1) if workers is not None else _cpu_count()
        self.context = context or _default_context()
        if self.context not in multiprocessing.get_all_start_methods():
            raise ValueError(f"context must be one of {multiprocessing.get_all_start_methods()}, "
                             f"got {self.context!r}")
        self._pool = None

    def describe(self) -> dict:
        return {"name": self.name, "workers": self.workers, "context": self.context}

    def imap_unordered(self, fn, tasks):
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
        from concurrent.futures.process import BrokenProcessPool

        tasks = list(tasks)
        if not tasks:
            return
        ctx = multiprocessing.get_context(self.context)
        self._pool = pool = ProcessPoolExecutor(max_workers=min(self.workers, len(tasks)),
                                                mp_context=ctx, initializer=_ignore_sigint)
        try:
            pending = {pool.submit(fn, t) for t in tasks}
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    try:
                        result = fut.result()
                    except BrokenProcessPool as err:
                        raise WorkerLost("a worker process died (killed or crashed) while "
                                         "computing; the tasks it and its pool were running "
                                         "are lost, finished ones are kept") from err
                    yield result
        except BaseException:
            self._terminate()
            raise
        finally:
            self.close()

    def _terminate(self) -> None:
        pool = self._pool
        if pool is None:
            return
        procs = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for p in procs:  # running tasks are abandoned: their points stay missing
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(timeout=5)
        self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class DaskExecutor(Executor):
    """Dask distributed: a scheduler at ``address``, or a LocalCluster started here.

    ``workers`` (LocalCluster only) defaults to the number of cores, one thread each;
    ``processes=False`` runs the LocalCluster's workers as threads of this process.
    """

    name = "dask"

    def __init__(self, address: str | None = None, workers: int | None = None,
                 processes: bool = True, **cluster_kwargs):
        from numerics.checks import as_int

        try:
            import distributed  # noqa: F401
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError("the dask executor needs dask.distributed: "
                              "pip install 'learndyn[dask]'") from err
        if address is not None and not isinstance(address, str):
            raise TypeError(f"address must be a string like 'tcp://HOST:PORT', got {address!r}")
        self.address = address
        self.workers = as_int(workers, "workers", 1) if workers is not None else _cpu_count()
        self.processes = bool(processes)
        self.cluster_kwargs = cluster_kwargs
        self._client = None
        self._cluster = None

    def describe(self) -> dict:
        d = {"name": self.name, "address": self.address}
        if self.address is None:
            d.update(workers=self.workers, processes=self.processes, cluster="LocalCluster")
        return d

    def _connect(self):
        import logging

        from distributed import Client, LocalCluster

        if self._client is not None:
            return self._client
        if self.address is None:
            kw = {"n_workers": self.workers, "threads_per_worker": 1,
                  "processes": self.processes, "dashboard_address": None,
                  "silence_logs": logging.ERROR}
            kw.update(self.cluster_kwargs)
            self._cluster = LocalCluster(**kw)
            self._client = Client(self._cluster)
        else:
            self._client = Client(self.address)
        return self._client

    def imap_unordered(self, fn, tasks):
        from distributed import as_completed

        tasks = list(tasks)
        if not tasks:
            return
        client = self._connect()
        futures = [client.submit(fn, t, pure=False) for t in tasks]
        try:
            for fut in as_completed(futures):
                yield fut.result()
        except BaseException:
            client.cancel(futures)
            raise

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


def _cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def make_executor(name: str = "process", *, workers: int | None = None,
                  address: str | None = None, **kwargs) -> Executor:
    """An executor by name: ``serial``, ``process`` (default) or ``dask``."""
    if name == "serial":
        if address is not None:
            raise ValueError("address is only used by the dask executor")
        return SerialExecutor()
    if name == "process":
        if address is not None:
            raise ValueError("address is only used by the dask executor")
        return ProcessExecutor(workers, **kwargs)
    if name == "dask":
        return DaskExecutor(address, workers, **kwargs)
    raise ValueError(f"executor must be one of {EXECUTORS}, got {name!r}")
