"""Spectral filters: the top eigenpairs of the Hankel matrix Z_L, computed matrix-free.

`Z_L[i, j] = 2 / ((i + j)^3 - (i + j))` for `i, j = 1..L` (Agarwal et al., "Spectral state space
models"). Its eigenvalues decay geometrically, so a handful of eigenvectors span every impulse
response `alpha^t`, `0 <= alpha <= 1`, of a symmetric linear dynamical system. `Z v` is a
correlation with a length-2L sequence, so it costs two FFTs of size 2L; Lanczos with full
reorthogonalisation (`jaxspec.linalg.lanczos`) then needs about `K + 40` products, because
every eigenvalue below `eps * ||Z||` is rounding noise anyway. The work is always float64
(inside `jax.enable_x64`), whatever the model's dtype, and results are cached on disk.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._core._io import atomic_write
from ..linalg import lanczos

FORMAT = "jaxspec-hankel-filters/1"
MAX_LENGTH = 1 << 21


def default_filter_cache() -> Path:
    """`$JAXSPEC_CACHE/filters`, else `~/.cache/jaxspec/filters`."""
    env = os.environ.get("JAXSPEC_CACHE")
    return (Path(env) if env else Path.home() / ".cache" / "jaxspec") / "filters"


def hankel_matrix(seq_len: int) -> np.ndarray:
    """The dense `Z_L` in float64 (a reference for tests and small sizes)."""
    i = np.arange(1, seq_len + 1, dtype=np.float64)
    s = i[:, None] + i[None, :]
    return 2.0 / (s**3 - s)


def _hankel_symbol(seq_len: int) -> jax.Array:
    """rfft (size 2L) of the generating sequence h[n] = Z entry with i + j = n + 2."""
    n = jnp.arange(2, 2 * seq_len + 1, dtype=jnp.float64)
    h = 2.0 / (n**3 - n)
    return jnp.fft.rfft(h, n=2 * seq_len)


def hankel_matvec(v: jax.Array, symbol: jax.Array) -> jax.Array:
    """`Z_L v` by one FFT convolution of size 2L (`symbol = _hankel_symbol(L)`)."""
    seq_len = v.shape[0]
    w = jnp.fft.rfft(v[::-1], n=2 * seq_len)
    full = jnp.fft.irfft(w * symbol, n=2 * seq_len)
    return full[seq_len - 1 : 2 * seq_len - 1]


@eqx.filter_jit
def _top_eigenpairs(seq_len: int, num_filters: int, num_steps: int):
    symbol = _hankel_symbol(seq_len)
    v0 = jnp.asarray(np.random.default_rng(seq_len).standard_normal(seq_len))
    dec = lanczos(hankel_matvec, v0, num_steps, symbol, reortho="full")
    # Rayleigh-Ritz on the (orthonormal) Krylov basis with freshly applied products: the
    # projected matrix is then exactly Q^T Z Q up to rounding, also after breakdowns.
    q = dec.basis
    zq = jax.vmap(hankel_matvec, in_axes=(0, None))(q, symbol)
    h = q @ zq.T
    theta, s = jnp.linalg.eigh(0.5 * (h + h.T))
    order = jnp.argsort(-theta)[:num_filters]
    theta, s = theta[order], s[:, order]
    vecs = q.T @ s
    resid = jnp.linalg.norm(zq.T @ s - vecs * theta[None, :], axis=0)
    # Fix the sign: the entry of largest magnitude is positive.
    idx = jnp.argmax(jnp.abs(vecs), axis=0)
    sign = jnp.sign(vecs[idx, jnp.arange(num_filters)])
    return theta, vecs * sign[None, :], resid


def _compute(seq_len: int, num_filters: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    num_steps = min(seq_len, num_filters + 48)
    with jax.enable_x64(True), jax.default_device(jax.devices("cpu")[0]):
        theta, vecs, resid = _top_eigenpairs(seq_len, num_filters, num_steps)
        return np.asarray(theta), np.asarray(vecs), np.asarray(resid)


def spectral_filters(
    seq_len: int,
    num_filters: int,
    *,
    cache: bool | str | Path = True,
) -> tuple[np.ndarray, np.ndarray]:
    """The `num_filters` largest eigenpairs of the Hankel matrix `Z_L` (float64 numpy arrays).

    Args:
        seq_len: L, the longest sequence the filters will serve (2 <= L <= 2**21).
        num_filters: K, 1 <= K <= L. Eigenvalues below about `1e-16 * sigma_1` (K above about 30
            at L = 16k) are rounding noise, as for a dense `eigh`; they get tiny `sigma^(1/4)`
            weights in an STU and do no harm, but their filters are not unique.
        cache: True (the default folder, `$JAXSPEC_CACHE/filters`), a folder, or False.

    Returns:
        `(sigma, phi)`: eigenvalues, descending, shape (K,), and unit eigenvectors as columns,
        shape (L, K), each signed so that its largest-magnitude entry is positive.

    Computed matrix-free (Lanczos with FFT products) in float64 on the CPU; the accuracy
    matches a dense `eigh` (eigenvector error about `1e-16 * sigma_1 / gap`), at L = 16384
    in well under a second, and the result is cached by (L, K).
    """
    if isinstance(seq_len, bool) or not isinstance(seq_len, int | np.integer):
        raise TypeError(f"`seq_len` must be an int, got {type(seq_len).__name__}.")
    if isinstance(num_filters, bool) or not isinstance(num_filters, int | np.integer):
        raise TypeError(f"`num_filters` must be an int, got {type(num_filters).__name__}.")
    seq_len, num_filters = int(seq_len), int(num_filters)
    if not 2 <= seq_len <= MAX_LENGTH:
        raise ValueError(f"`seq_len` must satisfy 2 <= seq_len <= {MAX_LENGTH}, got {seq_len}.")
    if not 1 <= num_filters <= seq_len:
        raise ValueError(
            f"`num_filters` must satisfy 1 <= num_filters <= seq_len ({seq_len}), "
            f"got {num_filters}."
        )
    path = None
    if cache is not False:
        folder = default_filter_cache() if cache is True else Path(cache)
        tag = hashlib.sha256(f"{FORMAT}:{seq_len}:{num_filters}".encode()).hexdigest()[:12]
        path = folder / f"hankel-L{seq_len}-K{num_filters}-{tag}.npz"
        if path.exists():
            try:
                with np.load(path) as f:
                    if str(f["format"]) == FORMAT and f["phi"].shape == (seq_len, num_filters):
                        return f["sigma"].copy(), f["phi"].copy()
            except (OSError, ValueError, KeyError):
                pass  # unreadable: recompute and overwrite
    sigma, phi, _ = _compute(seq_len, num_filters)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)

        def write(f):
            buf = io.BytesIO()
            np.savez(buf, sigma=sigma, phi=phi, format=np.array(FORMAT))
            f.write(buf.getvalue())

        atomic_write(path, write)
    return sigma, phi
