"""One folder per run: config.json, metrics.jsonl, log.txt, plots, checkpoints/, result.json."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from .._core._io import atomic_write
from ._config import config_to_dict


def prepare_run_dir(path: str | Path, cfg, *, primary: bool = True) -> Path:
    """Create `path` with `config.json`, or check that an existing one holds the same config
    (a resume); a different config raises and nothing is overwritten."""
    folder = Path(path)
    want = config_to_dict(cfg)
    cfile = folder / "config.json"
    if cfile.exists():
        have = json.loads(cfile.read_text())
        diff = sorted(k for k in set(have) | set(want) if have.get(k) != want.get(k))
        if diff:
            detail = ", ".join(f"{k}: {have.get(k)!r} there vs {want.get(k)!r} now" for k in diff)
            raise ValueError(f"run folder {folder} holds a different config ({detail}); choose "
                             "another --run-dir or rerun with the same config to resume.")
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    if primary:
        payload = json.dumps(want, indent=2, sort_keys=True).encode()
        atomic_write(cfile, lambda f: f.write(payload))
    return folder


def setup_logging(folder: Path, name: str) -> logging.Logger:
    log = logging.getLogger(f"jaxspec.jobs.{name}")
    log.setLevel(logging.INFO)
    for h in log.handlers:  # a second job in one process: close the previous run's log file
        h.close()
    log.handlers.clear()
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    for h in (logging.FileHandler(folder / "log.txt"), logging.StreamHandler(sys.stderr)):
        h.setFormatter(fmt)
        log.addHandler(h)
    log.propagate = False
    return log


def write_result(folder: Path, result: dict) -> None:
    payload = json.dumps(result, indent=2, sort_keys=True, default=float).encode()
    atomic_write(folder / "result.json", lambda f: f.write(payload))
