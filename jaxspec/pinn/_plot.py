"""Plots of a solved eigenproblem: states (1D curves, 2D images) and energy convergence."""

from __future__ import annotations

import numpy as np

__all__ = ["plot"]


def plot(result, *, reference: bool = True, path=None):
    """States and convergence of an `EigenResult`; returns the matplotlib figure.

    1D: the normalised states offset by their energies over the scaled potential, with the
    Chebyshev reference's states as dots (``reference=True``); 2D boxes and disks: one image
    per state. Right panel: relative energy error (or change, when no exact levels are known)
    against wall time. ``path`` saves the figure.
    """
    import jax
    import jax.numpy as jnp
    import matplotlib.pyplot as plt

    from ._reference import chebyshev_eigenvalues

    prob = result.problem
    k = len(result.energies)
    if prob.dim == 1:
        fig, ax = plt.subplots(1, 2, figsize=(11, 4))
        lo, hi = float(prob.domain.lower[0]), float(prob.domain.upper[0])
        x = np.linspace(lo, hi, 600)
        psi = np.asarray(result.wavefunctions(jnp.asarray(x)))
        spread = float(np.ptp(result.energies)) if k > 1 else 1.0
        amp = 0.4 * spread / max(k - 1, 1) / float(np.max(np.abs(psi)))
        v = np.asarray(jax.vmap(prob.V)(jnp.asarray(x)[:, None]))
        finite = np.isfinite(v)
        if np.ptp(v[finite]) > 0:
            vmin, vmax = result.energies[0] - 0.5 * spread, result.energies[-1] + 0.5 * spread
            ax[0].plot(x[finite], np.clip(v[finite], vmin, vmax), color="0.6", lw=1, label="V")
        nodes = ref = None
        if reference:
            _, nodes, ref = chebyshev_eigenvalues(prob, k, order=40, return_vectors=True)
            at_nodes = np.asarray(result.wavefunctions(jnp.asarray(nodes)))
        for j in range(k):
            e = result.energies[j]
            ax[0].plot(x, e + amp * psi[:, j], label=f"E{j + 1} = {e:.12g}")
            if ref is not None:
                s = at_nodes[:, j] @ ref[:, j] / (ref[:, j] @ ref[:, j])
                ax[0].plot(nodes[::2], e + amp * s * ref[::2, j], "k.", ms=2)
        ax[0].set_title(f"{prob.name}: states (dots: Chebyshev reference)", fontsize=9)
        ax[0].legend(fontsize=7)
        conv = ax[1]
    else:
        if prob.dim != 2:
            raise ValueError("plot: 1D and 2D problems only (slice 3D states yourself)")
        fig, ax = plt.subplots(1, k + 1, figsize=(3.2 * (k + 1), 3.2))
        lo, hi = np.asarray(prob.domain.lower), np.asarray(prob.domain.upper)
        gx, gy = np.meshgrid(*(np.linspace(lo[i], hi[i], 121) for i in range(2)), indexing="ij")
        pts = np.stack([gx, gy], -1)
        vals = np.asarray(result.wavefunctions(jnp.asarray(pts)))
        inside = prob.domain.contains(pts)
        for j in range(k):
            img = np.where(inside, vals[..., j], np.nan)
            ax[j].imshow(img.T, origin="lower", cmap="RdBu_r", extent=(lo[0], hi[0], lo[1], hi[1]))
            ax[j].set_title(f"E{j + 1} = {result.energies[j]:.10g}", fontsize=8)
            ax[j].axis("off")
        conv = ax[k]
    hist = np.asarray(result.history["energies"])
    t = np.asarray(result.history["time"])
    if len(hist):
        if result.exact is not None:
            err = np.abs(hist - result.exact) / np.abs(result.exact)
            label = "relative error"
        else:
            err = np.abs(hist - result.energies) / np.abs(result.energies)
            label = "relative change to final"
        for j in range(k):
            conv.semilogy(t, np.maximum(err[:, j], 1e-16), "o-", ms=3, label=f"E{j + 1}")
        conv.set_xlabel("wall time incl. compilation [s]")
        conv.set_ylabel(label)
        conv.legend(fontsize=7)
    conv.set_title("energy convergence", fontsize=9)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig
