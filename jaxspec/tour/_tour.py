"""Runs the tour's sections and writes the report."""

from __future__ import annotations

import datetime as _dt
import platform
import time
from pathlib import Path

from . import _fno, _hessian, _linalg, _physics, _pinn, _ssm
from ._report import table, write_report

SECTIONS = {
    "linalg": (_linalg.run, "matrix-free Lanczos/SLQ on a 10^6-unknown 2D Laplacian"),
    "hessian": (_hessian.run, "Hessian spectrum of a trained MLP vs dense eigh"),
    "physics": (_physics.run, "differentiable PDE solvers vs exact solutions; a Darcy dataset"),
    "fno": (_fno.run, "a Burgers solution operator learned by an FNO, super-resolution"),
    "pinn": (_pinn.run, "quantum wells by a PINN eigen-solver with certified error bounds"),
    "ssm": (_ssm.run, "Hankel filters, parity with negative eigenvalues, an STU on an LDS"),
}


def run_tour(out: str | Path = "runs", sections: list[str] | None = None, quick: bool = False):
    import jax

    jax.config.update("jax_enable_x64", True)  # the tour is an application: it opts in
    names = list(SECTIONS) if not sections else sections
    unknown = [s for s in names if s not in SECTIONS]
    if unknown:
        raise ValueError(f"unknown section(s) {unknown}; choose from {list(SECTIONS)}")
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = Path(out) / f"tour-{stamp}"
    folder.mkdir(parents=True, exist_ok=True)
    rows, plots = [], []
    t0 = time.perf_counter()
    for name in names:
        fn, blurb = SECTIONS[name]
        print(f"== {name}: {blurb}", flush=True)
        r, p = fn(folder, quick=quick)
        rows += r
        plots += p
    meta = {
        "date": stamp,
        "jax": f"{jax.__version__} on {jax.default_backend()} ({jax.device_count()} device(s))",
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
        "total time": f"{time.perf_counter() - t0:.1f} s",
    }
    print()
    print(table(rows))
    path = write_report(folder, rows, plots, meta)
    print(f"\nreport: {path}")
    return rows
