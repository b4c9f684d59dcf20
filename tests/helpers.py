"""Structured random test instances (planted spectra), in the spirit of lineax's helpers."""

import jax.numpy as jnp
import numpy as np


def random_orthogonal(n: int, seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(n, n)))
    return q * np.sign(np.diag(r))


def planted(eigenvalues: np.ndarray, seed: int = 0, dtype=jnp.float64) -> jnp.ndarray:
    """Symmetric matrix Q diag(eigenvalues) Q^T with a seeded random orthogonal Q."""
    ev = np.asarray(eigenvalues, dtype=np.float64)
    q = random_orthogonal(ev.size, seed)
    a = (q * ev) @ q.T
    return jnp.asarray(0.5 * (a + a.T), dtype=dtype)


SPECTRA = {
    # name: function of (n, rng) -> eigenvalues
    "clustered": lambda n, r: np.concatenate(
        [10 + 1e-3 * r.standard_normal(3), 5 + 1e-3 * r.standard_normal(3), r.uniform(-1, 1, n - 6)]
    ),
    "decaying": lambda n, r: 100.0 * np.exp(-np.arange(n) / 8.0),
    "degenerate": lambda n, r: np.concatenate([[7.0, 7.0, 7.0, 4.0, 4.0], r.uniform(-2, 2, n - 5)]),
    "indefinite": lambda n, r: np.sort(r.standard_normal(n)) * np.linspace(1, 5, n),
}


def laplacian_2d(nx: int):
    """Matrix-free 2D Dirichlet Laplacian (5-point, unit square, nx*nx interior points) and its
    exact eigenvalues (4/h^2)(sin^2(i pi h/2) + sin^2(j pi h/2))."""
    h = 1.0 / (nx + 1)

    def matvec(u):
        p = jnp.pad(u, 1)
        return (4 * u - p[:-2, 1:-1] - p[2:, 1:-1] - p[1:-1, :-2] - p[1:-1, 2:]) / h**2

    s = np.sin(np.arange(1, nx + 1) * np.pi * h / 2) ** 2
    exact = np.sort((4 / h**2) * (s[:, None] + s[None, :]).ravel())
    return matvec, exact
