"""Tour section: the PINN quantum-well paper's three 1D problems, two states each, certified."""

from __future__ import annotations

import time
from pathlib import Path

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from jaxspec import pinn

from ._report import Row


def run(folder: Path, quick: bool = False):
    rows, results = [], []
    problems = [pinn.infinite_well(), pinn.finite_well(), pinn.finite_barrier()]
    for i, prob in enumerate(problems):
        t = time.perf_counter()
        res = pinn.solve(prob, 2, key=jr.key(i), max_steps=10 if quick else 50)
        dt = time.perf_counter() - t
        results.append(res)
        for j in range(2):
            lo, hi = res.bounds[j]
            rows.append(
                Row(
                    "pinn",
                    f"{prob.name} E{j + 1}",
                    float(res.energies[j]),
                    float(prob.exact[j]),
                    dt if j == 0 else 0.0,
                    f"certified [{lo:.13g}, {hi:.13g}] (width {hi - lo:.1e}), "
                    f"residual {res.residual_norms[j]:.1e}",
                )
            )
    return rows, [_plot(folder, results)]


def _plot(folder: Path, results) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, len(results), figsize=(5.2 * len(results), 3.8))
    for a, res in zip(ax, results, strict=True):
        prob = res.problem
        lo, hi = float(prob.domain.lower[0]), float(prob.domain.upper[0])
        x = np.linspace(lo, hi, 600)
        psi = np.asarray(res.wavefunctions(jnp.asarray(x)))
        _, nodes, ref = pinn.chebyshev_eigenvalues(prob, 2, order=40, return_vectors=True)
        v = np.asarray(jax.vmap(prob.V)(jnp.asarray(x)[:, None]))
        if np.ptp(v) > 0:
            vs = v / np.ptp(v) * np.max(np.abs(psi))
            a.fill_between(x, 0, vs, color="0.9", label="V (scaled)")
        at_nodes = np.asarray(res.wavefunctions(jnp.asarray(nodes)))
        for j, color in enumerate(("C0", "C3")):
            # The reference's sign and normalisation matched to the PINN state by least squares.
            scale = at_nodes[:, j] @ ref[:, j] / (ref[:, j] @ ref[:, j])
            a.plot(x, psi[:, j], color=color, label=f"PINN psi{j + 1}, E = {res.energies[j]:.12g}")
            a.plot(nodes[::2], ref[::2, j] * scale, "k.", ms=3)
        a.plot([], [], "k.", label="Chebyshev reference")
        err = ", ".join(f"{e:.1e}" for e in res.relative_errors)
        a.set_title(f"{prob.name}: rel. errors {err}", fontsize=9)
        a.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    path = folder / "pinn_wells.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
