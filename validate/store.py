"""On-disk store of sweep points: one JSON record (+ optional NPZ of arrays) per point.

Every file is written to a temporary name in the same folder and moved into place with
:func:`os.replace`, so a reader (or a resumed sweep) sees either the whole file or none.
The NPZ is written first and the JSON record last; the record carries the SHA-256 of the
NPZ and a SHA-256 of its own canonical content, so a point is *complete* only if its
record parses, its own checksum matches, and its NPZ (if it has arrays) exists, matches
its checksum and loads with ``allow_pickle=False``.  Anything else - a file cut short by
a crash, a hand-edited record, a stray temporary file - counts as missing and is
recomputed.  Nothing here is pickled.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

__all__ = ["POINT_FORMAT", "canonical_json", "point_id", "split_outputs", "write_point",
           "read_point", "load_arrays", "atomic_write_bytes", "clean_temporaries", "to_plain"]

POINT_FORMAT = "learndyn-point/1"


def canonical_json(data) -> str:
    """JSON with sorted keys and no whitespace: equal data give equal text (for hashing)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=True)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def point_id(target: str, params: Mapping, replicate: int, entropy: int, spawn_key,
             quick: bool = False) -> str:
    """Identity of a point: hash of target, parameters, replicate index and its seed.

    Two points share an id only if they run the same computation with the same random
    stream, so a stored point can be reused whenever its id comes up again.
    """
    key = {"target": target, "params": to_plain(dict(params)), "replicate": int(replicate),
           "entropy": int(entropy), "spawn_key": [int(k) for k in spawn_key],
           "quick": bool(quick)}
    return _sha256(canonical_json(key).encode())[:24]


def to_plain(value):
    """Convert numpy scalars and nested containers to JSON-ready Python values."""
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_plain(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, (str, type(None))):
        return value
    raise TypeError(f"cannot store a value of type {type(value).__name__}: {value!r}")


def _is_scalar(v) -> bool:
    return isinstance(v, (bool, int, float, str, np.bool_, np.integer, np.floating)) or v is None


def split_outputs(outputs: Mapping, prefix: str = "") -> tuple[dict, dict]:
    """Split a result mapping into scalars (table columns) and arrays (NPZ entries).

    Nested mappings become dotted names (``extra.gamma``); a list of numbers or an
    ndarray with at least one dimension is an array; a list of mappings is flattened with
    its index (``stationary.0.exact``); 0-d arrays are scalars.
    """
    if not isinstance(outputs, Mapping):
        raise TypeError(f"a sweep function must return a dict of scalars/arrays, "
                        f"got {type(outputs).__name__}")
    scalars: dict = {}
    arrays: dict = {}
    for key, value in outputs.items():
        name = f"{prefix}{key}"
        if not isinstance(key, str) or not key:
            raise TypeError(f"output names must be non-empty strings, got {key!r}")
        if isinstance(value, Mapping):
            s, a = split_outputs(value, prefix=f"{name}.")
            scalars.update(s)
            arrays.update(a)
        elif _is_scalar(value):
            scalars[name] = to_plain(value)
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, Mapping)
                                                                 for v in value):
            for i, item in enumerate(value):
                s, a = split_outputs(item, prefix=f"{name}.{i}.")
                scalars.update(s)
                arrays.update(a)
        else:
            arr = np.asarray(value)
            if arr.dtype == object:
                raise TypeError(f"output {name!r} is not a numeric array or scalar")
            if arr.ndim == 0:
                scalars[name] = to_plain(arr.item())
            else:
                arrays[name] = arr
    return scalars, arrays


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and :func:`os.replace`."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    import io

    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    return buf.getvalue()


def write_point(folder: Path, record: dict, arrays: Mapping[str, np.ndarray]) -> Path:
    """Store one finished point: ``<id>.npz`` (if any arrays) then ``<id>.json``.

    ``record`` must hold ``id``; ``arrays``, ``npz_sha256``, ``format`` and ``checksum``
    are filled in here.
    """
    folder.mkdir(parents=True, exist_ok=True)
    pid = record["id"]
    record = dict(record)
    record["format"] = POINT_FORMAT
    record["arrays"] = sorted(arrays)
    record["npz_sha256"] = None
    if arrays:
        data = _npz_bytes(arrays)
        atomic_write_bytes(folder / f"{pid}.npz", data)
        record["npz_sha256"] = _sha256(data)
    record = to_plain(record)
    record.pop("checksum", None)
    record["checksum"] = _sha256(canonical_json(record).encode())
    path = folder / f"{pid}.json"
    atomic_write_bytes(path, json.dumps(record, indent=1, allow_nan=True).encode())
    return path


def read_point(folder: Path, pid: str) -> dict | None:
    """The record of point ``pid`` if it is complete and intact, else ``None``."""
    path = folder / f"{pid}.json"
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(record, dict) or record.get("format") != POINT_FORMAT:
        return None
    stored = record.pop("checksum", None)
    if stored != _sha256(canonical_json(record).encode()) or record.get("id") != pid:
        return None
    record["checksum"] = stored
    if record.get("arrays"):
        npz = folder / f"{pid}.npz"
        try:
            data = npz.read_bytes()
        except OSError:
            return None
        if _sha256(data) != record.get("npz_sha256"):
            return None
        try:
            with np.load(npz, allow_pickle=False) as z:
                if sorted(z.files) != sorted(record["arrays"]):
                    return None
                for name in z.files:
                    z[name]  # noqa: B018 - decompress every entry once
        except Exception:  # noqa: BLE001 - any failure to load means "recompute"
            return None
    return record


def load_arrays(folder: Path, pid: str) -> dict[str, np.ndarray]:
    """The arrays of a stored point (empty if it has none)."""
    npz = Path(folder) / f"{pid}.npz"
    if not npz.exists():
        return {}
    with np.load(npz, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def clean_temporaries(folder: Path) -> int:
    """Remove temporary files left by an interrupted write; returns how many."""
    n = 0
    if folder.is_dir():
        for p in folder.glob(".*.tmp"):
            try:
                p.unlink()
                n += 1
            except OSError:
                pass
    return n


def format_cell(value) -> str:
    """CSV text of a value: floats as ``repr`` (round-trips exactly), None as empty."""
    if value is None:
        return ""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(value)
    return str(value)
