"""Tour section: a Burgers solution operator learned by an FNO in about a minute."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import jax.numpy as jnp
import jax.random as jr
import numpy as np

from jaxspec import fno
from jaxspec.physics import datasets

from ._report import Row


def run(folder: Path, quick: bool = False):
    n_train, n_test = (100, 20) if quick else (400, 50)
    s = 128 if quick else 256
    epochs = 30 if quick else 80
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        ds = datasets.make("burgers", n_train + n_test, resolution=2 * s, solve_resolution=2 * s,
                           dt=1e-3, cache_dir=tmp, progress=False)
        t_data = time.perf_counter() - t
    a, u = jnp.asarray(ds["a"][:, None]), jnp.asarray(ds["u"][:, None])
    train = (a[:n_train, :, ::2], u[:n_train, :, ::2])
    model = fno.FNO(1, 1, 16, 32, ndim=1, dtype=a.dtype, key=jr.key(0))
    cfg = fno.TrainConfig(epochs=epochs, step_size=max(1, epochs // 4), batch_size=20,
                          normalize_inputs=True, normalize_outputs=True)
    t = time.perf_counter()
    res = fno.fit(model, train, None, cfg, progress=False)
    t_train = time.perf_counter() - t
    err_s = fno.evaluate(res.operator, a[n_train:, :, ::2], u[n_train:, :, ::2])
    err_2s = fno.evaluate(res.operator, a[n_train:], u[n_train:])
    rows = [
        Row("fno", f"Burgers operator, test rel. L2 at s={s} ({n_train} samples, {epochs} "
            "epochs)", err_s, None, t_train, f"data generated in {t_data:.1f} s"),
        Row("fno", f"same model evaluated at s={2 * s} (zero-shot super-resolution)", err_2s,
            None, 0.0, "solver data at the finer grid"),
    ]
    return rows, [_plot(folder, res.operator, a[n_train:], u[n_train:], s)]


def _plot(folder, op, a, u, s):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(11, 3.6))
    for j, i in enumerate((0, 1)):
        x2 = np.arange(2 * s) / (2 * s)
        pred = np.asarray(op(a[i]))[0]
        ax[j].plot(x2, np.asarray(u[i, 0]), "k-", lw=2, label="solver")
        ax[j].plot(x2, pred, "r--", label=f"FNO at s={2 * s} (trained at {s})")
        ax[j].set_title(f"test sample {i}: u(x, t=1)")
        ax[j].legend(fontsize=8)
    fig.tight_layout()
    path = folder / "fno_burgers.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
