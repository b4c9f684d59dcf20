"""Tour section: the Hessian spectrum of a small trained MLP, verified against dense eigh."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

import jaxspec.hessian as jh

from ._report import Row


def mixture_data(key, n, dim=16, classes=10):
    """A seeded Gaussian-mixture classification problem (no downloads)."""
    kc, kx, ky = jax.random.split(key, 3)
    centres = 1.0 * jax.random.normal(kc, (classes, dim))
    y = jax.random.randint(ky, (n,), 0, classes)
    x = centres[y] + jax.random.normal(kx, (n, dim))
    return x, y


def init_mlp(key, sizes):
    params = []
    for a, b in itertools.pairwise(sizes):
        key, k1 = jax.random.split(key)
        params.append({"w": jax.random.normal(k1, (a, b)) / np.sqrt(a), "b": jnp.zeros(b)})
    return params


def mlp(params, x):
    for layer in params[:-1]:
        x = jnp.tanh(x @ layer["w"] + layer["b"][None, :])
    return x @ params[-1]["w"] + params[-1]["b"][None, :]


def loss_fn(params, batch):
    x, y = batch
    logp = jax.nn.log_softmax(mlp(params, x), axis=-1)
    return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=-1))


def train(params, data, steps, lr=1e-2):
    opt = optax.adam(lr)

    @jax.jit
    def step(carry, _):
        p, s = carry
        g = jax.grad(loss_fn)(p, data)
        u, s = opt.update(g, s, p)
        return (optax.apply_updates(p, u), s), None

    # optax's Adam mixes Python floats and int32 step counts: allow standard promotion here
    with jax.numpy_dtype_promotion("standard"):
        (params, _), _ = jax.lax.scan(step, (params, opt.init(params)), None, length=steps)
    return params


def run(folder: Path, quick: bool = False):
    key = jax.random.key(0)
    sizes = [16, 32, 10] if quick else [16, 56, 48, 10]  # 4,178 parameters in full size
    data = mixture_data(key, 512)
    params = train(init_mlp(jax.random.fold_in(key, 1), sizes), data, 200)
    flat, unravel = ravel_pytree(params)
    n = flat.size
    rows, plots = [], []

    t = time.perf_counter()
    H = jax.jit(jax.hessian(lambda w: loss_fn(unravel(w), data)))(flat)
    dense = np.linalg.eigvalsh(np.asarray(H))[::-1]
    t_dense = time.perf_counter() - t

    res = jh.top_eigenpairs(loss_fn, params, data, 5, ncv=40)  # compile
    t = time.perf_counter()
    res = jh.top_eigenpairs(loss_fn, params, data, 5, ncv=40)
    jax.block_until_ready(res.eigenvalues)
    dt = time.perf_counter() - t
    lam = np.asarray(res.eigenvalues)
    err = float(np.max(np.abs(lam - dense[:5]) / np.abs(dense[:5])))
    rows.append(Row("hessian", f"top-5 Hessian eigenvalues, MLP with {n:,} params", err, None,
                    dt, f"max rel. error vs dense eigh ({t_dense:.1f} s); "
                        f"{int(res.num_matvecs)} HVPs incl. verification"))
    fast = jh.top_eigenpairs(loss_fn, params, data, 5, ncv=40, verify=False)
    err_f = float(np.max(np.abs(np.asarray(fast.eigenvalues) - dense[:5]) / dense[:5]))
    rows.append(Row("hessian", "same, verify=False", err_f, None, 0.0,
                    f"{int(fast.num_matvecs)} HVPs"))
    rows.append(Row("hessian", "lambda_max (sharpness)", float(lam[0]), float(dense[0]), 0.0,
                    "dense jax.hessian + eigh"))

    t = time.perf_counter()
    dens = jh.spectral_density(loss_fn, params, data, key=jax.random.key(2), num_probes=10,
                               num_steps=80)
    w1 = float(dens.wasserstein1(jnp.asarray(dense))) / float(dense[0] - dense[-1])
    rows.append(Row("hessian", "SLQ density W1/range (10 x 80)", w1, None,
                    time.perf_counter() - t, "vs dense spectrum; target <= 2e-3"))
    tr = jh.trace(loss_fn, params, data, key=jax.random.key(3), num_probes=100)
    rows.append(Row("hessian", "Hutchinson trace (100 probes)", float(tr.value),
                    float(dense.sum()), 0.0, f"standard error {float(tr.stderr):.2g}"))
    plots.append(_plot(folder, dens, lam, dense))
    return rows, plots


def _plot(folder, dens, top, dense):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    jh.plot_density(dens, ax=ax, eigenvalues=top)
    ax.hist(dense, bins=200, density=True, color="0.8", zorder=0, label="dense eigenvalues")
    ax.legend()
    ax.set_title("Hessian spectrum of a trained MLP: bulk near 0 and outliers")
    fig.tight_layout()
    path = folder / "hessian_density.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
