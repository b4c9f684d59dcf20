"""HiPPO-LegS and its diagonalisations: the S4D "normal part", plain `eig`, and
perturb-then-diagonalise (PTD).

HiPPO-LegS `A` is lower triangular and extremely non-normal: its eigenvector matrix has
condition number ~1e20 at N = 64, so `eig(A)` gives an SSM whose transfer function is
garbage. S4D keeps only the normal part `A + P P^T` (well conditioned, but a different system).
PTD (Yu, Erichson & Mahoney) diagonalises `A + E` for a small `E`: backward stable, and the
transfer function converges to HiPPO's as `||E|| -> 0`, at the price of `kappa(V) ~ 1/||E||`.
Here `||E||` is chosen per state size and working precision by measuring that trade-off
directly: the resolvent error `(sI - A)^-1 B` on the imaginary axis plus `u * kappa(V)`.
Everything runs at construction time in float64 (inside `jax.enable_x64`) on the CPU.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


def hippo_legs(state_size: int) -> tuple[np.ndarray, np.ndarray]:
    """HiPPO-LegS `(A, B)` in float64: `A[n, k] = -sqrt((2n+1)(2k+1))` below the diagonal,
    `-(n+1)` on it; `B[n] = sqrt(2n+1)`."""
    n = np.arange(state_size, dtype=np.float64)
    q = np.sqrt(2 * n + 1)
    a = -np.tril(q[:, None] * q[None, :], -1) - np.diag(n + 1)
    return a, q.copy()


class Diagonalisation(NamedTuple):
    """`A ~ V diag(lam) V^-1`, keeping one eigenvalue of each conjugate pair (Im > 0) plus the
    real ones; `weight` is 1 for the kept half of a pair (the output takes 2 Re) and 1/2 for a
    real eigenvalue (so that 2 Re counts it once). `b = V^-1 B` for HiPPO's B."""

    lam: np.ndarray
    v: np.ndarray
    v_inv: np.ndarray
    b: np.ndarray
    weight: np.ndarray
    perturbation: float
    condition: float


def _half(lam, v, v_inv, b, perturbation) -> Diagonalisation:
    scale = max(1.0, float(np.abs(lam).max()))
    tol = 1e-9 * scale
    keep = lam.imag > tol
    real = np.abs(lam.imag) <= tol
    idx = np.concatenate([np.flatnonzero(real), np.flatnonzero(keep)])
    idx = idx[np.argsort(np.abs(lam[idx].imag), kind="stable")]
    weight = np.where(real[idx], 0.5, 1.0)
    lam_k = lam[idx].copy()
    lam_k[real[idx]] = lam_k[real[idx]].real
    return Diagonalisation(
        lam_k,
        v[:, idx],
        v_inv[idx, :],
        b[idx],
        weight,
        float(perturbation),
        float(np.linalg.cond(v)),
    )


def _eig(a):
    with jax.enable_x64(True), jax.default_device(jax.devices("cpu")[0]):
        lam, v = jnp.linalg.eig(jnp.asarray(a, jnp.float64))
        v_inv = jnp.linalg.inv(v)
        return np.asarray(lam), np.asarray(v), np.asarray(v_inv)


def legs_normal(state_size: int) -> Diagonalisation:
    """S4D-LegS / S5: diagonalise the normal part `A + P P^T = -I/2 + S` (unitary `V`)."""
    a, b = hippo_legs(state_size)
    p = np.sqrt(np.arange(state_size) + 0.5)
    s = a + np.outer(p, p) + 0.5 * np.eye(state_size)  # skew-symmetric
    with jax.enable_x64(True), jax.default_device(jax.devices("cpu")[0]):
        w, v = jnp.linalg.eigh(jnp.asarray(-1j * s, jnp.complex128))
        w, v = np.asarray(w), np.asarray(v)
    lam = -0.5 + 1j * w
    v_inv = v.conj().T
    return _half(lam, v, v_inv, v_inv @ b, 0.0)


def legs_eig(state_size: int) -> Diagonalisation:
    """Plain `eig` of HiPPO-LegS, no perturbation (ill-posed: shown for comparison)."""
    a, b = hippo_legs(state_size)
    lam, v, v_inv = _eig(a)
    return _half(lam, v, v_inv, v_inv @ b, 0.0)


def resolvent_error(a, b, diag: Diagonalisation, freqs) -> float:
    """max over `s = i w` of `||(sI-A)^-1 B - V (sI-lam)^-1 V^-1 B|| / ||(sI-A)^-1 B||`, with the
    conjugate half of every kept pair added back."""
    n = a.shape[0]
    pairs = diag.weight == 1.0
    worst = 0.0
    for w in freqs:
        s = 1j * w
        exact = np.linalg.solve(s * np.eye(n) - a, b)
        approx = diag.v @ (diag.b / (s - diag.lam))
        approx = approx + np.conj(diag.v[:, pairs]) @ (
            np.conj(diag.b[pairs]) / (s - np.conj(diag.lam[pairs]))
        )
        worst = max(worst, float(np.linalg.norm(approx - exact) / np.linalg.norm(exact)))
    return worst


def legs_ptd(
    state_size: int,
    *,
    precision: float = 2.0**-24,
    perturbation: float | None = None,
    seed: int = 0,
) -> Diagonalisation:
    """Perturb-then-diagonalise HiPPO-LegS.

    Args:
        state_size: N >= 2.
        precision: unit roundoff the SSM will run in (float32 by default); it prices the
            eigenvector condition number `kappa(V)`.
        perturbation: `||E||_2 / ||A||_2`; by default the value in 10^-10..10^-1 that minimises
            `resolvent_error + precision * kappa(V)` among perturbations that keep every
            eigenvalue in the open left half-plane.
        seed: seed of the (Gaussian, spectrally normalised) perturbation direction.
    """
    a, b = hippo_legs(state_size)
    rng = np.random.default_rng(seed)
    e = rng.standard_normal((state_size, state_size))
    e /= np.linalg.norm(e, 2)
    norm_a = np.linalg.norm(a, 2)
    freqs = np.concatenate([[0.0], np.logspace(-1, np.log10(4 * state_size), 24)])
    candidates = [perturbation] if perturbation is not None else list(10.0 ** np.arange(-10, -0.5))
    best, best_cost = None, np.inf
    for d in candidates:
        lam, v, v_inv = _eig(a + d * norm_a * e)
        if lam.real.max() >= 0:
            continue
        diag = _half(lam, v, v_inv, v_inv @ b, d)
        cost = resolvent_error(a, b, diag, freqs) + precision * diag.condition
        if cost < best_cost:
            best, best_cost = diag, cost
    if best is None:
        raise ValueError(
            f"`perturbation`={perturbation} moves an eigenvalue of HiPPO-LegS (N={state_size}) "
            "into the right half-plane; use a smaller one (or None to choose automatically)."
        )
    return best
