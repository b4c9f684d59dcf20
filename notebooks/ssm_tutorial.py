# ---
# jupyter:
#   jupytext:
#     formats: py:percent,ipynb
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
# ---

# %% [markdown]
# # Spectral state-space layers: a tutorial
#
# 1. The STU's fixed filters are the top eigenvectors of a Hankel matrix; we compute them
#    matrix-free and check them against a dense `eigh`.
# 2. Diagonalising HiPPO-LegS: plain `eig` is garbage, the S4D normal part is another system,
#    perturb-then-diagonalise (PTD) is close; we look at the transfer functions.
# 3. Parity needs negative eigenvalues: the same selective SSM trained with eigenvalues in
#    [-1, 1] and in [0, 1].
# 4. An STU learns a linear dynamical system; convolution mode and recurrent (step) mode agree.
#
# Run as a script (`python notebooks/ssm_tutorial.py`) or open the paired notebook.
# `JAXSPEC_QUICK=1` shortens the run (used by the test suite).

# %%
import os
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import matplotlib
import numpy as np

import jaxspec.ssm as S

matplotlib.use("Agg")
import matplotlib.pyplot as plt

QUICK = os.environ.get("JAXSPEC_QUICK") == "1"
FIG = Path(os.environ.get("JAXSPEC_FIGURES", Path(__file__).parent / "figures"))
FIG.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## 1. Hankel filters
# `Z_L[i, j] = 2 / ((i+j)^3 - (i+j))`. Its eigenvalues decay geometrically, so 24 filters span
# the impulse responses of every symmetric LDS; `spectral_filters` runs Lanczos with FFT
# products in float64 and caches the result on disk.

# %%
L = 512 if QUICK else 2048
sigma, phi = S.spectral_filters(L, 16, cache=False)
w, v = np.linalg.eigh(S.hankel_matrix(L))
w, v = w[::-1], v[:, ::-1]
vec_err = [min(np.abs(phi[:, k] - v[:, k]).max(), np.abs(phi[:, k] + v[:, k]).max())
           for k in range(16)]
print("eigenvalue ratio sigma_k / sigma_1:", np.array2string(sigma[:8] / sigma[0], precision=2))
print("max eigenvector error vs dense eigh, leading 8:", f"{max(vec_err[:8]):.1e}")

# %% [markdown]
# ## 2. HiPPO-LegS: plain eig vs normal part vs PTD
# The resolvent `(i w - A)^-1 B` of the true HiPPO system against the diagonal versions.

# %%
N = 64
a, b = S.hippo_legs(N)
freqs = np.logspace(-1, 3, 60)
variants = {"PTD (float32-priced)": S.legs_ptd(N), "normal part (S4D-LegS)": S.legs_normal(N),
            "plain eig": S.legs_eig(N)}
errors = {name: [S.resolvent_error(a, b, d, [f]) for f in freqs] for name, d in variants.items()}
for name, e in errors.items():
    print(f"{name:24s} worst relative resolvent error {max(e):.2e}")

# %%
fig, ax = plt.subplots(1, 2, figsize=(11, 3.6))
for k in range(6):
    ax[0].plot(phi[:, k] * sigma[k] ** 0.25, lw=1, label=f"k={k}")
ax[0].set_xscale("log")
ax[0].set_title(f"sigma_k^(1/4) phi_k, L={L}")
ax[0].legend(fontsize=7)
for name, e in errors.items():
    ax[1].loglog(freqs, np.maximum(e, 1e-17), label=name)
ax[1].set_xlabel("frequency w")
ax[1].set_title(f"HiPPO-LegS N={N}: resolvent error of the diagonal system")
ax[1].legend(fontsize=8)
fig.tight_layout()
fig.savefig(FIG / "ssm_filters_ptd.png", dpi=100)

# %% [markdown]
# ## 3. Parity needs negative eigenvalues
# Train on lengths 3-40 and test on 40-256 (40-128 in quick mode), the last position of each
# sequence; scaled accuracy `2 acc - 1` is 0 at chance and 1 when perfect.

# %%
scaled = {}
for rng in ((-1, 1), (0, 1)):
    r = S.parity_experiment(rng, steps=300 if QUICK else 1000, n_train=2000,
                            n_test=100 if QUICK else 500, test_max_len=128 if QUICK else 256)
    scaled[rng] = r["scaled"]
    print(f"eigenvalues in {rng}: scaled test accuracy {scaled[rng]:.3f}")

# %% [markdown]
# ## 4. An STU on a linear dynamical system, two execution modes

# %%
seq = 128
task = S.lds(300, seq_len=seq, state_dim=8, spectrum="mixed", seed=0)
tr, te = task.subset(np.arange(250)), task.subset(np.arange(250, 300))
stu_model = S.SequenceModel(2, input_dim=2, d_model=16, num_layers=1, state_size=8,
                            layer="stu", layer_kwargs={"num_filters": 16}, seq_len=seq,
                            pooling=None, mlp_ratio=0, dtype=jnp.float32, key=jr.key(2))
fitted = S.fit(stu_model, tr, steps=100 if QUICK else 600, batch_size=32, learning_rate=3e-3,
               key=jr.key(3), progress=False).model
nmse = S.evaluate(fitted, te)["loss"] / float(np.mean(np.sum(te.targets**2, axis=-1)))
x0 = jnp.asarray(te.inputs[0], jnp.float32)
conv = eqx.filter_jit(lambda m, x: m(x))(fitted, x0)
steps = eqx.filter_jit(lambda m, x: jax.lax.scan(lambda s, xt: m.step(s, xt), m.init_state(),
                                                 x)[1])(fitted, x0)
mode_gap = float(jnp.abs(conv - steps).max() / jnp.abs(conv).max())
print(f"STU test MSE / variance: {nmse:.3f}; convolution vs step mode: {mode_gap:.1e}")

# %%
fig, ax = plt.subplots(figsize=(9, 3))
ax.plot(te.targets[0, :, 0], "k", lw=1.2, label="LDS")
ax.plot(np.asarray(conv[:, 0]), "C1--", lw=1.2, label="STU")
ax.legend()
ax.set_xlabel("t")
fig.tight_layout()
fig.savefig(FIG / "ssm_lds.png", dpi=100)
