"""Gaussian random fields with Matern-type covariance `sigma^2 (-Laplacian + tau^2)^(-alpha)`."""

from __future__ import annotations

import math

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, PRNGKeyArray

from .._core._dtypes import default_float_dtype
from .._core._spectral import dct1, dst1, integer_wavenumbers

_BOUNDARIES = ("periodic", "dirichlet", "neumann")


class GaussianRandomField(eqx.Module):
    """A centred Gaussian random field on a box in 1-3 D.

    Its covariance operator is `sigma^2 (-Laplacian + tau^2)^(-alpha)` with the Laplacian's
    boundary condition: the coefficient of each orthonormal Laplacian eigenfunction `phi_k`
    (eigenvalue `lambda_k`) is an independent normal with standard deviation
    `sigma (lambda_k + tau^2)^(-alpha/2)`. This is the convention of the FNO data generators:
    Burgers `alpha=2.5, tau=7, sigma=49`; Navier-Stokes `alpha=2.5, tau=7, sigma=7**1.5`;
    Darcy `alpha=2, tau=3` (thresholded).

    Grids: `boundary="periodic"` samples `[0, L)^d` at `j L / N` (sampled exactly by FFT);
    `"dirichlet"` and `"neumann"` sample `[0, L]^d` at the `s` vertices `j L / (s - 1)`,
    boundary included (type-I sine / cosine transforms; Dirichlet fields vanish on the
    boundary). Modes the grid cannot represent as real functions (Nyquist) are left out,
    and `zero_mean=True` leaves out the constant mode (periodic, Neumann).

    Call with a key for one sample: `grf(key)`; `jax.vmap` over keys for many.
    """

    shape: tuple[int, ...] = eqx.field(static=True)
    alpha: float = eqx.field(static=True)
    tau: float = eqx.field(static=True)
    sigma: float = eqx.field(static=True)
    boundary: str = eqx.field(static=True)
    length: float = eqx.field(static=True)
    zero_mean: bool = eqx.field(static=True)
    dtype: np.dtype = eqx.field(static=True)

    def __init__(
        self,
        shape: int | tuple[int, ...],
        *,
        alpha: float = 2.0,
        tau: float = 3.0,
        sigma: float = 1.0,
        boundary: str = "periodic",
        length: float = 1.0,
        zero_mean: bool = True,
        dtype=None,
    ):
        shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(map(int, shape))
        if not 1 <= len(shape) <= 3:
            raise ValueError(f"`shape` must have 1 to 3 axes, got {shape}.")
        if boundary not in _BOUNDARIES:
            raise ValueError(f"`boundary` must be one of {_BOUNDARIES}, got {boundary!r}.")
        least = 3 if boundary == "dirichlet" else 2
        if any(n < least for n in shape):
            raise ValueError(
                f"`shape` needs at least {least} points per axis for boundary={boundary!r}, "
                f"got {shape}."
            )
        for name, v in (("alpha", alpha), ("sigma", sigma), ("length", length)):
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"`{name}` must be positive and finite, got {v!r}.")
        if not (math.isfinite(tau) and tau >= 0):
            raise ValueError(f"`tau` must be non-negative and finite, got {tau!r}.")
        if tau == 0 and zero_mean is False and boundary != "dirichlet":
            raise ValueError("`tau=0` needs `zero_mean=True`: the constant mode has infinite "
                             "variance.")
        self.shape, self.alpha, self.tau, self.sigma = shape, float(alpha), float(tau), float(sigma)
        self.boundary, self.length, self.zero_mean = boundary, float(length), bool(zero_mean)
        self.dtype = np.dtype(dtype) if dtype is not None else default_float_dtype()

    # -- the spectrum ------------------------------------------------------------------
    def std(self) -> np.ndarray:
        """Standard deviation of each orthonormal coefficient, in the layout of
        `coefficients` (rfftn layout for periodic, mode index `k` per axis otherwise)."""
        if self.boundary == "periodic":
            ks = integer_wavenumbers(self.shape)
            lam = sum((2 * np.pi * k / self.length) ** 2 for k in ks)
            keep = np.ones(lam.shape, bool)
            for n, k in zip(self.shape, ks, strict=True):
                if n % 2 == 0:
                    keep = keep & (np.abs(k) < n // 2)
            const = (lam == 0)
        else:
            if self.boundary == "dirichlet":
                modes = [np.arange(1, n - 1) for n in self.shape]
            else:
                modes = [np.arange(0, n) for n in self.shape]
            grids = np.meshgrid(*modes, indexing="ij")
            lam = sum((np.pi * k / self.length) ** 2 for k in grids)
            keep = np.ones(lam.shape, bool)
            if self.boundary == "neumann":
                for i, n in enumerate(self.shape):
                    keep = keep & (grids[i] < n - 1)
            const = (lam == 0) if self.boundary == "neumann" else np.zeros(lam.shape, bool)
        with np.errstate(divide="ignore"):
            s = self.sigma * (lam + self.tau**2) ** (-self.alpha / 2)
        if self.zero_mean:
            keep = keep & ~const
        return np.where(keep, s, 0.0)

    # -- sampling ----------------------------------------------------------------------
    def __call__(self, key: PRNGKeyArray) -> Array:
        d = len(self.shape)
        std = jnp.asarray(self.std(), self.dtype)
        vol = self.length**d
        if self.boundary == "periodic":
            # real white noise on the grid has Hermitian, unit-variance Fourier coefficients
            xi = jr.normal(key, self.shape, self.dtype)
            axes = tuple(range(d))
            p = float(np.prod(self.shape))
            cdt = np.complex128 if self.dtype.itemsize >= 8 else np.complex64
            spec = jnp.fft.rfftn(xi, axes=axes) * std.astype(cdt)
            return (jnp.fft.irfftn(spec, s=self.shape, axes=axes) * math.sqrt(p / vol)).astype(
                self.dtype
            )
        xi = jr.normal(key, std.shape, self.dtype) * std
        if self.boundary == "dirichlet":
            u = xi * (2 / self.length) ** (d / 2)
            for ax in range(d):
                u = dst1(u, axis=ax)
            return jnp.pad(u, [(1, 1)] * d)
        # neumann: orthonormal weights 1/sqrt(L) (k = 0) and sqrt(2/L), DCT-I's halving
        u = xi
        for ax, n in enumerate(self.shape):
            k = np.arange(n)
            w = np.where(k == 0, 1 / math.sqrt(self.length), math.sqrt(2 / self.length) / 2)
            w = np.where(k == n - 1, math.sqrt(2 / self.length), w)
            bshape = [1] * d
            bshape[ax] = n
            u = dct1(u * jnp.asarray(w.reshape(bshape), self.dtype), axis=ax)
        return u.astype(self.dtype)

    # -- analysis (for checks) ---------------------------------------------------------
    def coefficients(self, field: Array) -> Array:
        """Orthonormal coefficients of a field on this grid (the inverse of sampling), in the
        layout of `std`. Periodic coefficients are complex with `E|c_k|^2 = std_k^2`."""
        d = len(self.shape)
        if field.shape[-d:] != self.shape:
            raise ValueError(f"`field` must end in shape {self.shape}, got {field.shape}.")
        field = jnp.asarray(field)
        vol = self.length**d
        axes = tuple(range(field.ndim - d, field.ndim))
        if self.boundary == "periodic":
            p = float(np.prod(self.shape))
            return jnp.fft.rfftn(field, axes=axes) * math.sqrt(vol) / p
        if self.boundary == "dirichlet":
            u = field[(...,) + (slice(1, -1),) * d]
            for ax in axes:
                u = dst1(u, axis=ax)
            n = np.array(self.shape) - 2  # DST-I twice is (n + 1) / 2 times the identity
            return u * float(np.prod(2.0 / (n + 1))) * (self.length / 2) ** (d / 2)
        u = field
        for ax, n in zip(axes, self.shape, strict=True):
            k = np.arange(n)
            # inverse of the synthesis weights: DCT-I twice is 2 (n - 1) times the identity
            w = np.where(k == 0, math.sqrt(self.length), math.sqrt(self.length / 2) * 2)
            w = np.where(k == n - 1, math.sqrt(self.length / 2), w)
            bshape = [1] * field.ndim
            bshape[ax] = n
            u = dct1(u, axis=ax) * jnp.asarray(w.reshape(bshape) / (2 * (n - 1)), field.dtype)
        return u


def threshold(field: Array, low: float = 3.0, high: float = 12.0, level: float = 0.0) -> Array:
    """Piecewise-constant field: `high` where `field >= level`, else `low` (Darcy coefficients:
    the FNO benchmark uses 12 and 3 on a GRF with `alpha=2, tau=3`)."""
    field = jnp.asarray(field)
    return jnp.where(field >= level, jnp.asarray(high, field.dtype), jnp.asarray(low, field.dtype))
