# ---
# jupyter:
#   jupytext:
#     formats: py:percent,ipynb
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Fourier neural operators on data from our own solver: a tutorial
#
# 1. Generate a Burgers dataset with `jaxspec.physics` (pseudo-spectral ETDRK4, cached on disk
#    with checksums): nothing is downloaded.
# 2. Train an FNO with the paper's recipe (Adam, weight decay, step decay, normalisers).
# 3. Evaluate at the training resolution and at twice it (zero-shot super-resolution).
# 4. Train the same model with an H1 (Sobolev) loss and compare derivative errors.
#
# Run as a script (`python notebooks/fno_tutorial.py`) or open the paired notebook.
# `JAXSPEC_QUICK=1` shortens the run (used by the test suite).

# %%
import os
import tempfile
from pathlib import Path

import jax.numpy as jnp
import jax.random as jr
import matplotlib
import numpy as np

from jaxspec import fno
from jaxspec.physics import datasets

matplotlib.use("Agg")
import matplotlib.pyplot as plt

QUICK = os.environ.get("JAXSPEC_QUICK") == "1"
FIG = Path(os.environ.get("JAXSPEC_FIGURES", Path(__file__).parent / "figures"))
FIG.mkdir(parents=True, exist_ok=True)
CACHE = os.environ.get("JAXSPEC_CACHE") or tempfile.mkdtemp()

# %% [markdown]
# ## 1. Data: the solver at 2s points, the model trained at s

# %%
n_train, n_test = (60, 20) if QUICK else (400, 100)
s = 64 if QUICK else 256
ds = datasets.make("burgers", n_train + n_test, resolution=2 * s, solve_resolution=2 * s,
                   dt=1e-3, cache_dir=CACHE, progress=False)
a, u = jnp.asarray(ds["a"][:, None]), jnp.asarray(ds["u"][:, None])
train = (a[:n_train, :, ::2], u[:n_train, :, ::2])
test_s = (a[n_train:, :, ::2], u[n_train:, :, ::2])
test_2s = (a[n_train:], u[n_train:])
print("a:", a.shape, "u:", u.shape)

# %% [markdown]
# ## 2-3. Train, evaluate at s and 2s

# %%
epochs = 15 if QUICK else 100
results = {}
for loss in ("l2", "h1"):
    model = fno.FNO(1, 1, 16, 32, ndim=1, dtype=a.dtype, key=jr.key(0))
    cfg = fno.TrainConfig(epochs=epochs, step_size=max(1, epochs // 4), batch_size=20,
                          loss=loss, normalize_inputs=True, normalize_outputs=True)
    res = fno.fit(model, train, None, cfg, progress=False)
    results[loss] = {"op": res.operator, "l2_s": fno.evaluate(res.operator, *test_s),
                     "l2_2s": fno.evaluate(res.operator, *test_2s)}
    print(f"loss {loss}: test relative L2 at s={s}: {results[loss]['l2_s']:.3e}, "
          f"at 2s={2 * s}: {results[loss]['l2_2s']:.3e}")

# %% [markdown]
# ## 4. Derivative error (spectral derivative of prediction vs solver)


# %%
def derivative_error(op, a_, u_):
    k = 2j * np.pi * np.fft.rfftfreq(u_.shape[-1], 1.0 / u_.shape[-1])
    pred = np.stack([np.asarray(op(x)) for x in a_])
    dp = np.fft.irfft(k * np.fft.rfft(pred, axis=-1), n=u_.shape[-1], axis=-1)
    du = np.fft.irfft(k * np.fft.rfft(np.asarray(u_), axis=-1), n=u_.shape[-1], axis=-1)
    return float(np.mean(np.linalg.norm(dp - du, axis=-1) / np.linalg.norm(du, axis=-1)))


for loss in results:
    results[loss]["dx_rel"] = derivative_error(results[loss]["op"], *test_s)
    print(f"loss {loss}: relative error of du/dx: {results[loss]['dx_rel']:.3e}")

# %%
fig, ax = plt.subplots(figsize=(8, 3.2))
x2 = np.arange(2 * s) / (2 * s)
ax.plot(x2, np.asarray(test_2s[1][0, 0]), "k", lw=2, label="solver")
ax.plot(x2, np.asarray(results["l2"]["op"](test_2s[0][0]))[0], "C1--",
        label=f"FNO at {2 * s} points (trained at {s})")
ax.legend()
fig.tight_layout()
fig.savefig(FIG / "fno_tutorial.png", dpi=100)
