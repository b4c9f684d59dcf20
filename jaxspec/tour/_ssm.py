"""Tour section: Hankel filters vs a dense eigh, parity solved only with negative eigenvalues,
and an STU learning a linear dynamical system (with a plot of its predictions)."""

from __future__ import annotations

import time
from pathlib import Path

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from jaxspec import ssm

from ._report import Row


def run(folder: Path, quick: bool = False):
    rows = []
    # 1. filters against a dense eigh of Z_L
    length = 1024 if quick else 2048
    t = time.perf_counter()
    sigma, phi = ssm.spectral_filters(length, 12, cache=False)
    dt = time.perf_counter() - t
    w, v = np.linalg.eigh(ssm.hankel_matrix(length))
    w, v = w[::-1][:12], v[:, ::-1][:, :12]
    err = max(
        min(np.abs(phi[:, k] - v[:, k]).max(), np.abs(phi[:, k] + v[:, k]).max()) for k in range(12)
    )
    rows.append(
        Row(
            "ssm",
            f"Hankel filters L={length}, top-12 eigenvalue 1",
            float(sigma[0]),
            float(w[0]),
            dt,
            f"eigenvectors vs dense eigh: max error {err:.1e}",
        )
    )

    # 2. parity: eigenvalues in [-1, 1] vs [0, 1]
    steps = 300 if quick else 1000
    for rng in ((-1, 1), (0, 1)):
        r = ssm.parity_experiment(rng, steps=steps, n_train=2000 if quick else 4000,
                                  n_test=200 if quick else 500,
                                  test_max_len=128 if quick else 256)
        lengths = r["test"].lengths
        rows.append(Row("ssm", f"parity, eigenvalues in [{rng[0]}, {rng[1]}]: scaled accuracy",
                        r["scaled"], None, r["seconds"],
                        f"train lengths 3-40, test {lengths.min()}-{lengths.max()}, "
                        f"{steps} steps"))

    # 3. an STU learns a long-memory linear dynamical system
    seq = 128 if quick else 256
    task = ssm.lds(600, seq_len=seq, state_dim=8, spectrum="mixed", seed=0)
    train_t, test_t = task.subset(np.arange(500)), task.subset(np.arange(500, 600))
    model = ssm.SequenceModel(
        2,
        input_dim=2,
        d_model=16,
        num_layers=1,
        state_size=8,
        layer="stu",
        layer_kwargs={"num_filters": 16},
        seq_len=seq,
        pooling=None,
        mlp_ratio=0,
        dtype=jnp.float32,
        key=jr.key(2),
    )
    res = ssm.fit(
        model,
        train_t,
        steps=150 if quick else 800,
        batch_size=32,
        learning_rate=3e-3,
        key=jr.key(3),
        progress=False,
    )
    mse = ssm.evaluate(res.model, test_t)["loss"]
    var = float(np.mean(np.sum(test_t.targets**2, axis=-1)))
    rows.append(
        Row(
            "ssm",
            "STU on an LDS (eigenvalues up to 0.9999): test MSE / variance",
            mse / var,
            None,
            res.seconds,
            f"L={seq}, 16 filters, one layer",
        )
    )
    return rows, [_plot(folder, res.model, test_t)]


def _plot(folder: Path, model, task) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = jnp.asarray(task.inputs[0], jnp.float32)
    pred = np.asarray(eqx.filter_jit(lambda m, x: m(x))(model, x))
    fig, ax = plt.subplots(2, 1, figsize=(9, 4.8), sharex=True)
    for i in range(2):
        ax[i].plot(task.targets[0, :, i], "k", lw=1.2, label="LDS output")
        ax[i].plot(pred[:, i], "C1--", lw=1.2, label="STU prediction")
        ax[i].set_ylabel(f"y[{i}]")
    ax[0].legend(loc="upper right")
    ax[1].set_xlabel("t")
    ax[0].set_title("STU on a held-out input sequence")
    fig.tight_layout()
    path = folder / "ssm_lds.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
