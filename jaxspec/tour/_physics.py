"""Tour section: differentiable PDE solvers against exact solutions, and a dataset."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from jaxspec._core._spectral import dealias_mask
from jaxspec.physics import (
    GaussianRandomField,
    burgers,
    burgers_exact,
    darcy,
    datasets,
    navier_stokes_2d,
    navier_stokes_forcing,
)

from ._report import Row


def _manufactured(s):
    def u_exact(x, y):
        return jnp.sin(jnp.pi * x) * jnp.sin(2 * jnp.pi * y) * jnp.exp(x)

    def a(x, y):
        return 2 + jnp.sin(2 * jnp.pi * x) * jnp.cos(jnp.pi * y)

    def f(x, y):
        gx, gy = jax.grad(u_exact, 0), jax.grad(u_exact, 1)
        return -(jax.grad(lambda x, y: a(x, y) * gx(x, y), 0)(x, y)
                 + jax.grad(lambda x, y: a(x, y) * gy(x, y), 1)(x, y))

    x = jnp.linspace(0, 1, s)
    X, Y = jnp.meshgrid(x, x, indexing="ij")
    return a(X, Y), jax.vmap(jax.vmap(f))(X, Y), u_exact(X, Y)


def run(folder: Path, quick: bool = False):
    rows, plots = [], []
    n = 256 if quick else 1024

    # 1) Burgers, FNO setting, vs the exact Cole-Hopf solution
    u0 = GaussianRandomField(n, alpha=2.5, tau=7.0, sigma=49.0)(jr.key(0))
    u0 = jnp.fft.irfft(jnp.fft.rfft(u0) * jnp.asarray(dealias_mask((n,)), jnp.complex128), n=n)
    t = time.perf_counter()
    u1 = jax.block_until_ready(burgers(u0, nu=0.1, t_final=1.0, dt=5e-4))
    dt = time.perf_counter() - t
    exact = burgers_exact(np.asarray(u0), 1.0, nu=0.1)
    err = float(np.linalg.norm(np.asarray(u1) - exact) / np.linalg.norm(exact))
    rows.append(Row("physics", f"Burgers nu=0.1 t=1 n={n}: rel. L2 error", err, 0.0, dt,
                    "exact Cole-Hopf solution; target <= 1e-11"))

    # 2) gradient through the rollout vs central finite differences
    w = jnp.cos(2 * jnp.pi * jnp.arange(n, dtype=u0.dtype) / n)

    def loss(u, nu):
        return jnp.vdot(w, burgers(u, nu=nu, t_final=0.2, dt=2e-3))

    t = time.perf_counter()
    g_nu = jax.grad(loss, 1)(u0, 0.1)
    eps = 1e-5
    fd_nu = (loss(u0, 0.1 + eps) - loss(u0, 0.1 - eps)) / (2 * eps)
    dt = time.perf_counter() - t
    rows.append(Row("physics", "d loss / d nu through 100 Burgers steps", float(g_nu),
                    float(fd_nu), dt, "central finite difference"))

    # 3) Taylor-Green vortex: exact exponential decay
    s = 64
    x = np.arange(s) / s
    X, Y = np.meshgrid(x, x, indexing="ij")
    k = 4 * np.pi
    w0 = 2 * k * np.sin(k * X) * np.sin(k * Y)
    t = time.perf_counter()
    wt = jax.block_until_ready(navier_stokes_2d(jnp.asarray(w0), nu=1e-2, t_final=1.0, dt=1e-2))
    dt = time.perf_counter() - t
    rows.append(Row("physics", "Taylor-Green max|w| at t=1 (64^2)", float(jnp.max(jnp.abs(wt))),
                    float(np.max(np.abs(w0)) * np.exp(-2e-2 * k**2)), dt, "exact decay"))

    # 4) Darcy: second-order convergence on a manufactured solution
    t = time.perf_counter()
    errs = []
    sizes = (9, 17, 33) if quick else (17, 33, 65)
    for s_d in sizes:
        a, f, ue = _manufactured(s_d)
        errs.append(float(jnp.max(jnp.abs(darcy(a, f) - ue))))
    order = float(np.log2(errs[-2] / errs[-1]))
    rows.append(Row("physics", f"Darcy order ({sizes[1]} -> {sizes[2]}, manufactured)", order, 2.0,
                    time.perf_counter() - t, "second-order finite differences"))

    # 5) random field spectrum
    t = time.perf_counter()
    grf = GaussianRandomField((32, 32), alpha=2.5, tau=7.0, sigma=7.0**1.5)
    samples = jax.vmap(grf)(jr.split(jr.key(1), 2000))
    c = np.asarray(grf.coefficients(samples))
    std = grf.std()
    ratio = float(np.mean(np.abs(c) ** 2, axis=0)[std > 0].sum() / (std[std > 0] ** 2).sum())
    rows.append(Row("physics", "GRF power / specified (2000 samples, 32^2)", ratio, 1.0,
                    time.perf_counter() - t, "Matern covariance, target within 5 %"))

    # 6) a dataset, generated and cached
    nd, sd = (16, 29) if quick else (200, 85)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        ds = datasets.make("darcy", nd, resolution=sd, cache_dir=tmp, progress=False)
        gen = time.perf_counter() - t
        t = time.perf_counter()
        datasets.make("darcy", nd, resolution=sd, cache_dir=tmp, progress=False)
        reload = time.perf_counter() - t
    rows.append(Row("physics", f"Darcy s={sd} dataset: {nd} samples (solved at "
                    f"{(sd - 1) * 5 + 1})", gen / nd, None, gen,
                    f"s per sample; cached reload {reload:.2f} s"))

    plots.append(_plot(folder, np.asarray(u0), np.asarray(u1), exact, ds, quick))
    return rows, plots


def _plot(folder, u0, u1, exact, ds, quick):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = 64
    grf = GaussianRandomField((s, s), alpha=2.5, tau=7.0, sigma=7.0**1.5)
    w = navier_stokes_2d(grf(jr.key(2)), nu=1e-3, t_final=2.0 if quick else 10.0, dt=1e-2,
                         forcing=navier_stokes_forcing(s))
    fig, ax = plt.subplots(1, 4, figsize=(17, 3.8))
    x = np.arange(u0.size) / u0.size
    ax[0].plot(x, u0, label="u0 (GRF)")
    ax[0].plot(x, u1, label="jaxspec, t=1")
    ax[0].plot(x[::16], exact[::16], "k.", ms=3, label="Cole-Hopf")
    ax[0].set_title("Burgers, nu = 0.1")
    ax[0].legend(fontsize=8)
    im = ax[1].imshow(np.asarray(w).T, origin="lower", cmap="RdBu_r")
    ax[1].set_title("Navier-Stokes vorticity, nu = 1e-3")
    fig.colorbar(im, ax=ax[1], fraction=0.046)
    im = ax[2].imshow(ds["a"][0].T, origin="lower", cmap="viridis")
    ax[2].set_title(f"Darcy coefficient a (s = {ds['a'].shape[-1]})")
    fig.colorbar(im, ax=ax[2], fraction=0.046)
    im = ax[3].imshow(ds["u"][0].T, origin="lower", cmap="magma")
    ax[3].set_title("Darcy solution u")
    fig.colorbar(im, ax=ax[3], fraction=0.046)
    fig.tight_layout()
    path = folder / "physics.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
