"""The on-disk cache: `.npz` shards with sha256 checksums and a JSON manifest.

Layout of one dataset folder `<cache>/<name>-<key>/` (`key` hashes the generating
parameters, the seed, the shard size, the storage dtype and the generator version; not `n`):

- `shard-00000.npz`, ...: samples `[j B, j B + count)` of the deterministic sequence, one array
  per field with the sample axis first (numpy `.npz`, uncompressed).
- `shard-00000.json`: the shard's `count` and `sha256` (written after the shard).
- `manifest.json`: format, name, parameters, seed, `n`, fields with per-sample shapes and dtype,
  the shard list with checksums, versions, wall time and diagnostics; written last.

Every file is written to a temporary name and renamed, so a killed job leaves whole shards
behind and the next call resumes from them. Loading re-hashes every shard it reads: a corrupt
or truncated shard is regenerated, never loaded.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import jax
import jax.random as jr
import numpy as np

from ..._core._io import atomic_write
from ..._core._progress import Progress
from ._specs import DATASETS, grid_for

FORMAT = "jaxspec-dataset/1"


def default_cache_dir() -> Path:
    """`$JAXSPEC_CACHE`, else `~/.cache/jaxspec/datasets`."""
    env = os.environ.get("JAXSPEC_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "jaxspec" / "datasets"


@dataclasses.dataclass
class Dataset:
    """A loaded dataset: `arrays` (numpy, sample axis first), `grid`, `manifest`, `path`."""

    name: str
    arrays: dict[str, np.ndarray]
    grid: np.ndarray
    manifest: dict[str, Any]
    path: Path

    def __getitem__(self, field: str) -> np.ndarray:
        return self.arrays[field]

    def __len__(self) -> int:
        return len(next(iter(self.arrays.values())))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()



def _write_json(path: Path, obj: Any) -> None:
    atomic_write(path, lambda f: f.write(json.dumps(obj, indent=2, sort_keys=True).encode()))


def _cache_key(name: str, params: dict, seed: int, shard_size: int, dtype: str) -> str:
    spec = DATASETS[name]
    blob = json.dumps(
        {"params": params, "seed": seed, "shard_size": shard_size, "dtype": dtype,
         "version": spec.version, "format": FORMAT}, sort_keys=True, default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _shard_digest(folder: Path, j: int, need: int) -> str | None:
    """The shard's sha256 if it exists, holds >= `need` samples and matches its sidecar."""
    data, meta = folder / f"shard-{j:05d}.npz", folder / f"shard-{j:05d}.json"
    if not (data.exists() and meta.exists()):
        return None
    try:
        info = json.loads(meta.read_text())
        digest = _sha256(data)
        return digest if int(info["count"]) >= need and info["sha256"] == digest else None
    except (ValueError, KeyError, OSError):
        return None


def make(
    name: str,
    n: int,
    *,
    resolution: int | None = None,
    cache_dir: str | Path | None = None,
    seed: int = 0,
    shard_size: int = 100,
    storage_dtype: str = "float32",
    resolution_tol: float | None = 1e-6,
    progress: bool = True,
    **params: Any,
) -> Dataset:
    """Generate (or load from the cache) `n` samples of the named dataset.

    **Arguments:**

    - `name`: one of `jaxspec.physics.datasets.DATASETS` (`burgers`, `darcy`,
      `navier_stokes`, `ks`); `params` override its defaults (see `describe(name)`).
    - `resolution`: output grid points per axis (default: the dataset's).
    - `cache_dir`: parent folder (default `$JAXSPEC_CACHE` or `~/.cache/jaxspec/datasets`).
    - `seed`: sample `i` comes from `fold_in(key(seed), i)`.
    - `shard_size`: samples generated per batch and stored per file.
    - `storage_dtype`: `"float32"` (as the FNO benchmarks) or `"float64"`. The computation
      runs in JAX's default float (float64 when x64 is enabled, as the CLI does).
    - `resolution_tol`: largest allowed fraction of spectral energy in the upper third of the
      solver's dealiased band (final state); above it the solver grid under-resolves the
      solution and a `ValueError` says so before anything is stored. `None` disables it.

    A cached dataset with the same parameters is reloaded (and extended if `n` grew);
    shards that fail their checksum are regenerated with a message on stderr.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose from {sorted(DATASETS)}.")
    if not (isinstance(n, (int, np.integer)) and n >= 1):
        raise ValueError(f"`n` must be a positive integer, got {n!r}.")
    if not (isinstance(shard_size, (int, np.integer)) and shard_size >= 1):
        raise ValueError(f"`shard_size` must be a positive integer, got {shard_size!r}.")
    if storage_dtype not in ("float32", "float64"):
        raise ValueError(f"`storage_dtype` must be 'float32' or 'float64', got {storage_dtype!r}.")
    spec = DATASETS[name]
    p = spec.resolve({**params, "resolution": resolution})
    key = _cache_key(name, p, int(seed), int(shard_size), storage_dtype)
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    folder = folder / f"{name}-{key}"
    folder.mkdir(parents=True, exist_ok=True)

    num_shards = -(-n // shard_size)
    counts = [min(shard_size, n - j * shard_size) for j in range(num_shards)]
    todo, digests = [], {}
    for j, c in enumerate(counts):
        digests[j] = _shard_digest(folder, j, c)
        if digests[j] is None:
            if (folder / f"shard-{j:05d}.npz").exists():
                print(f"jaxspec data: {folder.name}/shard-{j:05d} is missing its checksum or "
                      "fails it (partial or corrupt): regenerating it", file=sys.stderr)
            todo.append(j)
    old = _read_manifest(folder)
    wall = float(old.get("wall_time_s", 0.0)) if old and not todo else 0.0
    tails = list(old.get("diagnostics", {}).get("max_tail_fraction_per_shard", [])) if old else []
    tails = (tails + [None] * num_shards)[:num_shards]
    if todo:
        base = jr.key(int(seed))
        total = sum(counts[j] for j in todo)
        t0 = time.perf_counter()
        with Progress(total, f"{name} (s={p['resolution']})", enabled=progress) as bar:
            for j in todo:
                idx = np.arange(j * shard_size, j * shard_size + counts[j])
                keys = jax.vmap(lambda i: jr.fold_in(base, i))(idx)
                out = spec.generate(keys, p)
                tail = out.pop("_tail")
                arrays = {k: np.asarray(v, dtype=storage_dtype) for k, v in out.items()}
                for k, v in arrays.items():
                    if not np.all(np.isfinite(v)):
                        raise FloatingPointError(f"{name}: non-finite values in field {k!r}.")
                tails[j] = float(np.max(np.asarray(tail)))
                if resolution_tol is not None and tails[j] > resolution_tol:
                    raise ValueError(
                        f"{name}: the solver grid under-resolves the solution: "
                        f"{tails[j]:.2e} of the spectral energy lies in the upper third of "
                        f"the dealiased band (resolution_tol={resolution_tol:g}). Raise "
                        "`solve_resolution` (or `resolution`), or pass resolution_tol=None."
                    )
                path = folder / f"shard-{j:05d}.npz"
                atomic_write(path, lambda f, a=arrays: np.savez(f, **a))
                digests[j] = _sha256(path)
                _write_json(folder / f"shard-{j:05d}.json",
                            {"count": counts[j], "sha256": digests[j]})
                bar.update(counts[j])
        wall = time.perf_counter() - t0

    arrays: dict[str, list[np.ndarray]] = {}
    shards = []
    for j, c in enumerate(counts):
        path = folder / f"shard-{j:05d}.npz"  # verified (or written) above: hashed once
        with np.load(path) as z:
            for k in z.files:
                arrays.setdefault(k, []).append(z[k][:c])
        shards.append({"file": path.name, "count": c, "sha256": digests[j]})
    out = {k: np.concatenate(v, axis=0) for k, v in arrays.items()}
    finite_tails = [t for t in tails if t is not None]
    manifest = {
        "format": FORMAT,
        "name": name,
        "description": spec.description,
        "params": p,
        "seed": int(seed),
        "n": int(n),
        "shard_size": int(shard_size),
        "fields": {k: {"shape": list(v.shape[1:]), "dtype": str(v.dtype),
                       "meaning": spec.fields.get(k, "")} for k, v in out.items()},
        "shards": shards,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "versions": {"jaxspec": _version(), "jax": jax.__version__,
                     "generator": spec.version},
        "x64": bool(jax.config.read("jax_enable_x64")),
        "wall_time_s": wall,
        "diagnostics": {
            "max_tail_fraction": max(finite_tails) if finite_tails else None,
            "max_tail_fraction_per_shard": tails,
            "note": "spectral energy fraction in the upper third of the dealiased band of the "
                    "final solver state; > 1e-6 suggests raising solve_resolution",
        },
    }
    if todo or old is None or old.get("n") != n:
        _write_json(folder / "manifest.json", manifest)
    else:
        manifest = old
    return Dataset(name, out, grid_for(name, p), manifest, folder)


def _read_manifest(folder: Path) -> dict | None:
    path = folder / "manifest.json"
    if not path.exists():
        return None
    try:
        m = json.loads(path.read_text())
        return m if m.get("format") == FORMAT else None
    except (ValueError, OSError):
        return None


def load(path: str | Path) -> Dataset:
    """Load a dataset folder written by `make`, verifying every shard's checksum.

    Raises `OSError` naming the shard if one is missing or corrupt (use `make` with the same
    parameters to regenerate it).
    """
    folder = Path(path)
    m = _read_manifest(folder)
    if m is None:
        raise OSError(f"{folder} has no valid manifest.json (not a dataset, or unfinished).")
    arrays: dict[str, list[np.ndarray]] = {}
    for sh in m["shards"]:
        p = folder / sh["file"]
        if not p.exists() or _sha256(p) != sh["sha256"]:
            raise OSError(f"{p} is missing or fails its sha256 checksum; regenerate it with "
                          f"jaxspec.physics.datasets.make({m['name']!r}, ...).")
        with np.load(p) as z:
            for k in z.files:
                arrays.setdefault(k, []).append(z[k][: sh["count"]])
    out = {k: np.concatenate(v, axis=0) for k, v in arrays.items()}
    return Dataset(m["name"], out, grid_for(m["name"], m["params"]), m, folder)


def describe(name: str) -> str:
    """The dataset's description, default parameters and fields, as text."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose from {sorted(DATASETS)}.")
    spec = DATASETS[name]
    lines = [f"{name}: {spec.description}", "  parameters:"]
    lines += [f"    {k} = {v!r}" for k, v in spec.defaults.items()]
    lines += ["  fields:"] + [f"    {k}: {v}" for k, v in spec.fields.items()]
    return "\n".join(lines)


def _version() -> str:
    from ... import __version__

    return __version__
