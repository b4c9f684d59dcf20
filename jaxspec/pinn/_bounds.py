"""Certified eigenvalue intervals from Rayleigh quotients and residual norms.

For a self-adjoint ``H``, weight ``w`` and trial ``psi`` with Rayleigh quotient ``rho`` and residual
norm ``eta = ||H psi - rho w psi||_{w^-1} / ||psi||_w``:

- Krylov-Bogolyubov / Weinstein: some eigenvalue lies in ``[rho - eta, rho + eta]``.
- Kato-Temple: if the open interval ``(alpha, beta)`` contains ``rho`` and exactly one eigenvalue
  ``lam``, then ``rho - eta^2 / (beta - rho) <= lam <= rho + eta^2 / (rho - alpha)``.

For the j-th of the k lowest states, ``alpha`` is an upper bound of level ``j-1`` (``-inf`` for the
ground state, which gives the variational upper bound ``rho``) and ``beta`` a lower bound of level
``j+1`` (the gap estimate). Degenerate or unresolved levels fall back to Weinstein.
"""

from __future__ import annotations

import numpy as np

__all__ = ["certify", "kato_temple", "weinstein"]


def weinstein(rho, eta) -> np.ndarray:
    """``[rho - eta, rho + eta]`` (shape ``(..., 2)``)."""
    rho, eta = np.asarray(rho, float), np.abs(np.asarray(eta, float))
    return np.stack([rho - eta, rho + eta], axis=-1)


def kato_temple(rho, eta, alpha, beta) -> np.ndarray:
    """Kato-Temple interval; ends whose gap is not positive are ``-inf``/``+inf``."""
    rho, eta = np.asarray(rho, float), np.asarray(eta, float)
    alpha, beta = np.asarray(alpha, float), np.asarray(beta, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = np.where(beta > rho, rho - eta**2 / (beta - rho), -np.inf)
        hi = np.where(alpha < rho, rho + eta**2 / (rho - alpha), np.inf)
        hi = np.where(np.isneginf(alpha), rho, hi)
    return np.stack([lo, hi], axis=-1)


def certify(rho, eta, *, next_lower: float = -np.inf, slack=0.0) -> np.ndarray:
    """Intervals for the k lowest levels from Ritz values ``rho`` and residual norms ``eta``.

    Arguments:
        rho: shape ``(k,)``, increasing Ritz values of one k-dimensional trial subspace, so by
            min-max ``rho_j >= lam_j`` (the upper ends).
        eta: shape ``(k,)`` residual norms of the Ritz vectors.
        next_lower: a lower bound for level ``k+1`` (the gap estimate for the last state);
            ``-inf`` when unknown.
        slack: added on both sides (quadrature error estimate plus rounding).

    Returns ``(k, 2)``. Lower ends: the larger of Weinstein's ``rho - eta`` and Kato-Temple's
    ``rho - eta^2 / (beta - rho)`` with ``beta`` the next level's Weinstein lower end, used only
    when it lies above ``rho`` (a real gap; degenerate levels keep Weinstein).
    """
    rho, eta = np.asarray(rho, float), np.abs(np.asarray(eta, float))
    k = rho.shape[0]
    lower_w = rho - eta
    beta = np.r_[lower_w[1:], float(next_lower)]
    with np.errstate(divide="ignore", invalid="ignore"):
        lower_kt = np.where(beta > rho, rho - eta**2 / (beta - rho), -np.inf)
    lower = np.maximum(lower_w, lower_kt)
    slack = np.broadcast_to(np.asarray(slack, float), (k,))
    return np.stack([lower - slack, rho + slack], axis=-1)
