"""Plots: curvature density on a log scale with outliers, and sharpness trajectories."""

from __future__ import annotations

from typing import Any

import numpy as np


def plot_density(density: Any, *, ax: Any = None, sigma: float | None = None,
                 eigenvalues: Any = None, num_grid: int = 2000, label: str = "SLQ density"):
    """Gaussian-smoothed SLQ density on a log y-axis; `eigenvalues` (e.g. the top-k from
    `top_eigenpairs`) are marked as outliers. `sigma` defaults to 0.5% of the support."""
    import jax.numpy as jnp
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    lo, hi = (float(x) for x in density.support())
    if eigenvalues is not None:
        hi = max(hi, float(np.max(np.asarray(eigenvalues))))
    span = hi - lo if hi > lo else 1.0
    sigma = 0.005 * span if sigma is None else sigma
    grid = np.linspace(lo - 0.05 * span, hi + 0.05 * span, num_grid)
    pdf = np.asarray(density.pdf(jnp.asarray(grid), sigma))
    ax.semilogy(grid, np.maximum(pdf, 1e-12), label=label)
    if eigenvalues is not None:
        for i, lam in enumerate(np.asarray(eigenvalues)):
            ax.axvline(float(lam), color="C3", ls="--", lw=0.8,
                       label="top eigenvalues (eigsh)" if i == 0 else None)
    ax.set_xlabel("eigenvalue")
    ax.set_ylabel("density")
    ax.set_ylim(bottom=max(1e-8, float(pdf.max()) * 1e-7))
    ax.legend()
    return ax


def plot_sharpness(records: list, *, ax: Any = None):
    """Top eigenvalue(s) against the step, with the 2/lr stability threshold."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    steps = [r.step for r in records]
    ev = np.array([np.asarray(r.eigenvalues) for r in records])
    for i in range(ev.shape[1]):
        ax.plot(steps, ev[:, i], marker="o", ms=3, label=f"lambda_{i + 1}")
    ax.plot(steps, [r.threshold for r in records], "k--", label="2 / lr")
    ax.set_xlabel("step")
    ax.set_ylabel("curvature eigenvalue")
    ax.legend()
    return ax
