"""Shared benchmark plumbing: alternating timed rounds, environment facts, JSON + Markdown."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from jaxspec.jobs import restart_with_huge_pages as restart_with_huge_pages

RESULTS = Path(__file__).parent / "results"


def block(x):
    import jax

    return jax.block_until_ready(x)


def time_alternating(fns: dict[str, Callable[[], object]], rounds: int = 5,
                     keep_times: bool = False) -> dict:
    """Compile/warm each function once (reported), then time them alternating, `rounds` times.

    Returns {name: {"compile_s", "median_s", "min_s", "max_s"}}, plus each round's "times"
    with `keep_times`.
    """
    out = {}
    for name, fn in fns.items():
        t = time.perf_counter()
        block(fn())
        out[name] = {"compile_s": time.perf_counter() - t, "times": []}
    for _ in range(rounds):
        for name, fn in fns.items():
            t = time.perf_counter()
            block(fn())
            out[name]["times"].append(time.perf_counter() - t)
    for d in out.values():
        ts = d["times"] if keep_times else d.pop("times")
        d.update(median_s=statistics.median(ts), min_s=min(ts), max_s=max(ts))
    return out


def environment() -> dict:
    import jax

    return {
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "loadavg": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()][:2],
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "GLIBC_TUNABLES": os.environ.get("GLIBC_TUNABLES"),
    }


def write(name: str, payload: dict, table_md: str, command: str | None = None) -> None:
    """`results/<name>.json` and `.md`; `command` reproduces them (default: the benchmark)."""
    command = command or f"python benchmarks/{name}.py"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2, default=float))
    env = payload.get("environment", {})
    head = (f"# {name} benchmark\n\n`{command}` on {env.get('machine')} "
            f"({env.get('cpu_count')} cores, load {env.get('loadavg')}), jax {env.get('jax')} "
            f"{env.get('backend')}, {env.get('date')}"
            + (f", GLIBC_TUNABLES={env['GLIBC_TUNABLES']}" if env.get("GLIBC_TUNABLES") else "")
            + ".\n\n")
    (RESULTS / f"{name}.md").write_text(head + table_md + "\n")
    print(head + table_md)


def md_table(header: list[str], rows: list[list]) -> str:
    def fmt(x):
        if isinstance(x, float):
            return f"{x:.3g}" if 1e-3 <= abs(x) < 1e4 or x == 0 else f"{x:.2e}"
        return str(x)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)
