"""The named benchmark datasets: their parameters and batch generators.

Every sample `i` is drawn from `jax.random.fold_in(jax.random.key(seed), i)`, so a dataset is
a deterministic sequence: any prefix, any shard and any batch size give the same samples.
"""

from __future__ import annotations

import dataclasses
import functools as ft
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..._core._spectral import dealias_mask, fourier_resample
from .._burgers import burgers
from .._darcy import darcy
from .._grf import GaussianRandomField, threshold
from .._ks import kuramoto_sivashinsky
from .._navier_stokes import navier_stokes_2d, navier_stokes_forcing


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """A named dataset: default parameters, the arrays it produces, and its generator.

    `generate(keys, params)` returns a dict of arrays with leading axis `len(keys)`, plus
    `"_tail"`: per-sample spectral-tail fractions (a resolution diagnostic, not stored).
    `version` is part of the cache key: bump it when the generator's output changes.
    """

    name: str
    description: str
    defaults: dict[str, Any]
    fields: dict[str, str]
    generate: Callable[[jax.Array, dict[str, Any]], dict[str, jax.Array]]
    version: int = 1

    def resolve(self, overrides: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(overrides) - set(self.defaults))
        if unknown:
            raise ValueError(
                f"dataset {self.name!r} has no parameter(s) {unknown}; its parameters are "
                f"{sorted(self.defaults)}."
            )
        params = dict(self.defaults)
        for k, v in overrides.items():
            if v is None:
                continue
            default = self.defaults[k]
            if isinstance(default, bool) or default is None:
                params[k] = v
            elif isinstance(default, int):
                if isinstance(v, float) and not v.is_integer():
                    raise ValueError(f"`{k}` must be an integer, got {v!r}.")
                params[k] = int(v)
            elif isinstance(default, float):
                params[k] = float(v)
            else:
                params[k] = v
        _validate(self.name, params)
        return params


def _validate(name: str, p: dict[str, Any]) -> None:
    for k, v in p.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            if not math.isfinite(v):
                raise ValueError(f"{name}: `{k}` must be finite, got {v!r}.")
    positive = [k for k in ("resolution", "nu", "t_final", "dt", "alpha", "sigma", "length",
                            "refine", "num_snapshots", "solve_resolution") if k in p]
    for k in positive:
        if p[k] is not None and not p[k] > 0:
            raise ValueError(f"{name}: `{k}` must be positive, got {p[k]!r}.")
    if p.get("resolution", 8) < 4:
        raise ValueError(f"{name}: `resolution` must be at least 4, got {p['resolution']}.")


def _to_resolution(u: jax.Array, s: int, d: int) -> jax.Array:
    """Periodic fields from the solver grid to `s` points per axis: exact point sampling when
    the solver grid is a multiple of `s`, trigonometric interpolation otherwise."""
    n = u.shape[-1]
    if n == s:
        return u
    if n % s == 0:
        step = n // s
        return u[(...,) + (slice(None, None, step),) * d]
    return jax.vmap(lambda x: fourier_resample(x, (s,) * d))(u.reshape((-1, *u.shape[-d:]))
                                                             ).reshape(u.shape[:-d] + (s,) * d)


def _tail_fraction(u: jax.Array, d: int) -> jax.Array:
    """Fraction of the spectral energy in the upper third of the dealiased band (per sample):
    large values mean the solver grid under-resolves the solution."""
    n = u.shape[-1]
    axes = tuple(range(u.ndim - d, u.ndim))
    e = jnp.abs(jnp.fft.rfftn(u, axes=axes)) ** 2
    keep = jnp.asarray(dealias_mask((n,) * d))
    upper = keep & ~jnp.asarray(dealias_mask((n,) * d, fraction=4.0 / 9.0))
    total = jnp.sum(jnp.where(keep, e, 0.0), axis=axes)
    return jnp.sum(jnp.where(upper, e, 0.0), axis=axes) / jnp.maximum(total, 1e-300)


# -- burgers -------------------------------------------------------------------------------
@ft.lru_cache(maxsize=8)
def _burgers_fn(n, nu, t_final, dt, alpha, tau, sigma):
    grf = GaussianRandomField(n, alpha=alpha, tau=tau, sigma=sigma)
    mask = jnp.asarray(dealias_mask((n,)), _complex())

    def one(key):
        u0 = jnp.fft.irfft(jnp.fft.rfft(grf(key)) * mask, n=n)  # what the solver sees
        return u0, burgers(u0, nu=nu, t_final=t_final, dt=dt)

    return jax.jit(jax.vmap(one))


def _burgers(keys, p):
    n = p["solve_resolution"] or max(p["resolution"], 1024)
    a, u = _burgers_fn(n, p["nu"], p["t_final"], p["dt"], p["alpha"], p["tau"], p["sigma"])(keys)
    s = p["resolution"]
    return {"a": _to_resolution(a, s, 1), "u": _to_resolution(u, s, 1),
            "_tail": _tail_fraction(u, 1)}


# -- darcy ---------------------------------------------------------------------------------
@ft.lru_cache(maxsize=8)
def _darcy_fn(n, alpha, tau, low, high, f, face):
    grf = GaussianRandomField((n, n), alpha=alpha, tau=tau, boundary="neumann")

    def one(key):
        a = threshold(grf(key), low, high)
        return a, darcy(a, f, face=face)

    return jax.jit(jax.vmap(one))


def _darcy(keys, p):
    s, r = p["resolution"], p["refine"]
    n = (s - 1) * r + 1
    a, u = _darcy_fn(n, p["alpha"], p["tau"], p["low"], p["high"], p["f"], p["face"])(keys)
    return {"a": a[:, ::r, ::r], "u": u[:, ::r, ::r], "_tail": jnp.zeros(len(keys))}


# -- navier-stokes -------------------------------------------------------------------------
@ft.lru_cache(maxsize=8)
def _ns_fn(n, nu, t_final, dt, num_snapshots, alpha, tau, sigma):
    grf = GaussianRandomField((n, n), alpha=alpha, tau=tau, sigma=sigma)
    forcing = navier_stokes_forcing(n)
    mask = jnp.asarray(dealias_mask((n, n)), _complex())

    def one(key):
        w0 = jnp.fft.irfft2(jnp.fft.rfft2(grf(key)) * mask, s=(n, n))
        w = navier_stokes_2d(
            w0, nu=nu, t_final=t_final, dt=dt, forcing=forcing, num_snapshots=num_snapshots
        )
        return jnp.concatenate([w0[None], w], axis=0)

    return jax.jit(jax.vmap(one))


def _navier_stokes(keys, p):
    s = p["resolution"]
    n = p["solve_resolution"] or 2 * s
    w = _ns_fn(n, p["nu"], p["t_final"], p["dt"], p["num_snapshots"], p["alpha"], p["tau"],
               p["sigma"])(keys)
    return {"w": _to_resolution(w, s, 2), "_tail": _tail_fraction(w[:, -1], 2)}


# -- kuramoto-sivashinsky ------------------------------------------------------------------
@ft.lru_cache(maxsize=8)
def _ks_fn(n, length, dt, burn_in, t_final, num_snapshots):
    grf = GaussianRandomField(n, alpha=2.0, tau=1.0, length=length)

    def one(key):
        u0 = grf(key)
        u0 = u0 / jnp.sqrt(jnp.mean(u0**2))
        if burn_in > 0:
            u0 = kuramoto_sivashinsky(u0, t_final=burn_in, dt=dt, length=length)
        u = kuramoto_sivashinsky(u0, t_final=t_final, dt=dt, length=length,
                                 num_snapshots=num_snapshots)
        return jnp.concatenate([u0[None], u], axis=0)

    return jax.jit(jax.vmap(one))


def _ks(keys, p):
    s = p["resolution"]
    n = p["solve_resolution"] or s
    u = _ks_fn(n, p["length"], p["dt"], p["burn_in"], p["t_final"], p["num_snapshots"])(keys)
    return {"u": _to_resolution(u, s, 1), "_tail": _tail_fraction(u[:, -1], 1)}


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in [
        DatasetSpec(
            "burgers",
            "1D viscous Burgers (FNO benchmark): GRF initial data a -> u(t_final)",
            dict(resolution=1024, solve_resolution=None, nu=0.1, t_final=1.0, dt=5e-4,
                 alpha=2.5, tau=7.0, sigma=49.0),
            {"a": "(s,) initial condition", "u": "(s,) solution at t_final"},
            _burgers,
        ),
        DatasetSpec(
            "darcy",
            "2D Darcy flow (FNO benchmark): thresholded GRF coefficient a -> pressure u, f = 1",
            dict(resolution=85, refine=5, alpha=2.0, tau=3.0, low=3.0, high=12.0, f=1.0,
                 face="arithmetic"),
            {"a": "(s, s) coefficient", "u": "(s, s) solution, zero boundary"},
            _darcy,
        ),
        DatasetSpec(
            "navier_stokes",
            "2D Navier-Stokes vorticity on the torus (FNO benchmark): w at t = 0, T/m, ..., T",
            dict(resolution=64, solve_resolution=None, nu=1e-3, t_final=50.0, dt=1e-2,
                 num_snapshots=50, alpha=2.5, tau=7.0, sigma=7.0**1.5),
            {"w": "(num_snapshots + 1, s, s) vorticity snapshots from t = 0"},
            _navier_stokes,
        ),
        DatasetSpec(
            "ks",
            "1D Kuramoto-Sivashinsky trajectories on the attractor (after a burn-in)",
            dict(resolution=128, solve_resolution=None, length=32 * math.pi, dt=0.05,
                 burn_in=100.0, t_final=100.0, num_snapshots=200),
            {"u": "(num_snapshots + 1, s) snapshots from the end of the burn-in"},
            _ks,
        ),
    ]
}


def grid_for(name: str, params: dict[str, Any]) -> np.ndarray:
    """The sample coordinates of a dataset's fields (per axis)."""
    s = params["resolution"]
    if name == "darcy":
        return np.linspace(0.0, 1.0, s)
    length = params.get("length", 1.0)
    return np.arange(s) * length / s


def _complex():
    return jnp.complex128 if jax.config.read("jax_enable_x64") else jnp.complex64
