"""Tour section: matrix-free spectra of the 2D Dirichlet Laplacian (one million unknowns)."""

from __future__ import annotations

import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import jaxspec.linalg as jl

from ._report import Row


def laplacian(nx: int):
    """5-point Dirichlet Laplacian on the unit square, nx*nx interior points, and its exact
    eigenvalues (4/h^2)(sin^2(i pi h/2) + sin^2(j pi h/2))."""
    h = 1.0 / (nx + 1)

    def matvec(u):
        p = jnp.pad(u, 1)
        return (4 * u - p[:-2, 1:-1] - p[2:, 1:-1] - p[1:-1, :-2] - p[1:-1, 2:]) / h**2

    s = np.sin(np.arange(1, nx + 1) * np.pi * h / 2) ** 2
    return matvec, (4 / h**2) * (s[:, None] + s[None, :])


def _tridiag_eigvals(alphas, betas):
    T = np.diag(alphas) + np.diag(betas[:-1], 1) + np.diag(betas[:-1], -1)
    return np.linalg.eigvalsh(T)


def run(folder: Path, quick: bool = False):
    nx = 200 if quick else 1000
    steps = 800 if quick else 4000
    mv, ev2d = laplacian(nx)
    exact = np.sort(ev2d.ravel())
    rows, plots = [], []
    n = nx * nx
    key = jax.random.key(0)
    v0 = jax.random.normal(key, (nx, nx))

    # 1) extreme eigenvalues by plain Lanczos (O(n) memory, no basis kept)
    t = time.perf_counter()
    dec = jl.lanczos(mv, v0, steps, reortho="none", return_basis=False)
    theta = _tridiag_eigvals(np.asarray(dec.alphas), np.asarray(dec.betas))
    dt = time.perf_counter() - t
    rows.append(Row("linalg", f"lambda_min, n={n:,} ({steps} Lanczos steps)", theta[0],
                    exact[0], dt, "analytic discrete eigenvalue"))
    rows.append(Row("linalg", "lambda_max, same run", theta[-1], exact[-1], 0.0,
                    "analytic discrete eigenvalue"))

    # 2) six smallest eigenpairs with degenerate pairs by thick-restart eigsh (certified)
    ne = 60 if quick else 100
    mv_e, ev_e = laplacian(ne)
    ex_e = np.sort(ev_e.ravel())[:6]
    t = time.perf_counter()
    res = jl.eigsh(mv_e, jnp.ones((ne, ne)), 6, which="smallest", ncv=40, max_matvecs=20000)
    lam = np.asarray(res.eigenvalues)
    dt = time.perf_counter() - t
    err = np.max(np.abs(lam - ex_e) / ex_e)
    rows.append(Row("linalg", f"eigsh: 6 smallest of {ne}x{ne} (2 double pairs), max rel. err",
                    err, None, dt, f"{int(res.num_matvecs)} matvecs, max residual "
                    f"{float(jnp.max(res.residual_norms)):.1e}, all converged"))

    # 3) spectral density by SLQ vs the exact eigenvalue histogram
    t = time.perf_counter()
    dens = jl.slq(mv, v0, key=jax.random.key(1), num_probes=10, num_steps=80, reortho="none")
    w1 = float(dens.wasserstein1(jnp.asarray(exact))) / (exact[-1] - exact[0])
    dt = time.perf_counter() - t
    rows.append(Row("linalg", "SLQ density W1/range (10 probes x 80 steps)", w1, None, dt,
                    "vs exact spectrum; target <= 2e-3"))
    est, se = dens.trace(lambda x: x)
    rows.append(Row("linalg", "SLQ trace estimate", float(est), float(exact.sum()), 0.0,
                    f"standard error {float(se) / exact.sum():.1e} (relative)"))

    plots.append(_plot(folder, dens, exact))
    return rows, plots


def _plot(folder: Path, dens, exact):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lo, hi = exact[0], exact[-1]
    grid = np.linspace(lo, hi, 600)
    sigma = 0.01 * (hi - lo)
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    ax[0].hist(exact, bins=150, density=True, color="0.8", label="exact eigenvalues")
    ax[0].plot(grid, np.asarray(dens.pdf(jnp.asarray(grid), sigma)), "C0",
               label="SLQ, sigma = 1% of range")
    ax[0].set_xlabel("eigenvalue")
    ax[0].set_ylabel("density")
    ax[0].legend()
    ax[0].set_title("2D Dirichlet Laplacian spectrum")
    cdf_exact = np.searchsorted(exact, grid, side="right") / exact.size
    ax[1].plot(grid, cdf_exact, "k", lw=2, label="exact CDF")
    ax[1].plot(grid, np.asarray(dens.cdf(jnp.asarray(grid))), "C1--", label="SLQ (interpolated)")
    ax[1].set_xlabel("eigenvalue")
    ax[1].legend()
    fig.tight_layout()
    path = folder / "linalg_density.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
