"""Navier-Stokes vs exact flows, Darcy vs a manufactured solution and a sparse direct solve."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from jaxspec.physics import (
    GaussianRandomField,
    darcy,
    darcy_residual,
    navier_stokes_2d,
    navier_stokes_forcing,
    spectral_derivative,
    threshold,
    vorticity_to_velocity,
)


def _grid(s, length=1.0):
    x = np.arange(s) * length / s
    return np.meshgrid(x, x, indexing="ij")


def test_taylor_green_vortex_decays_exactly():
    s, nu, t = 32, 1e-2, 1.0
    X, Y = _grid(s)
    k = 2 * np.pi * 2
    w0 = 2 * k * np.sin(k * X) * np.sin(k * Y)
    w = navier_stokes_2d(jnp.asarray(w0), nu=nu, t_final=t, dt=1e-2)
    exact = w0 * np.exp(-2 * nu * k**2 * t)
    assert np.max(np.abs(w - exact)) / np.max(np.abs(exact)) <= 1e-13


def test_forced_kolmogorov_flow_relaxes_exactly():
    # the FNO forcing and any vorticity on the same shell |k|^2 = 8 pi^2 have no advection
    s, nu, t = 16, 1e-2, 2.0
    X, Y = _grid(s)
    f = np.asarray(navier_stokes_forcing(s))
    w_steady = f / (nu * 8 * np.pi**2)
    w0 = 0.3 * (np.sin(2 * np.pi * (X + Y)) - np.cos(2 * np.pi * (X + Y)))
    w = navier_stokes_2d(jnp.asarray(w0), nu=nu, t_final=t, dt=1e-2, forcing=jnp.asarray(f),
                         num_snapshots=2)
    exact = w_steady + (w0 - w_steady) * np.exp(-nu * 8 * np.pi**2 * t)
    assert np.max(np.abs(w[-1] - exact)) / np.max(np.abs(exact)) <= 1e-13


def test_navier_stokes_random_flow_velocity_and_gradient(rng):
    s = 16
    w0 = GaussianRandomField((s, s), alpha=2.5, tau=7.0, sigma=7.0**1.5)(jax.random.key(0))
    u, v = vorticity_to_velocity(w0)
    div = spectral_derivative(u, 1, axis=0) + spectral_derivative(v, 1, axis=1)
    curl = spectral_derivative(v, 1, axis=0) - spectral_derivative(u, 1, axis=1)
    assert float(jnp.max(jnp.abs(div))) <= 1e-12
    np.testing.assert_allclose(curl, w0 - jnp.mean(w0), atol=1e-12)  # w = v_x - u_y
    weights = jnp.asarray(rng.standard_normal((s, s)))
    d = jnp.asarray(rng.standard_normal((s, s)))

    def loss(w):
        return jnp.sum(weights * navier_stokes_2d(w, nu=1e-2, t_final=0.1, dt=1e-2))

    g = jax.grad(loss)(w0)
    eps = 1e-5
    fd = (loss(w0 + eps * d) - loss(w0 - eps * d)) / (2 * eps)
    assert abs(float(jnp.vdot(g, d)) - float(fd)) <= 1e-6 * abs(float(fd))


def test_navier_stokes_bad_input():
    with pytest.raises(ValueError, match="square"):
        navier_stokes_2d(jnp.zeros((8, 16)))
    with pytest.raises(ValueError, match="forcing"):
        navier_stokes_2d(jnp.zeros((8, 8)), forcing=jnp.zeros((16, 16)))
    X, Y = _grid(32)
    w0 = 200 * jnp.asarray(np.sin(2 * np.pi * X) * np.cos(4 * np.pi * Y) + np.cos(2 * np.pi * Y))
    with pytest.raises(Exception, match="unstable"):
        jax.block_until_ready(navier_stokes_2d(w0, nu=1e-4, t_final=1.0, dt=0.1))


# -- Darcy ---------------------------------------------------------------------------------
def _u_exact(x, y):
    return jnp.sin(jnp.pi * x) * jnp.sin(2 * jnp.pi * y) * jnp.exp(x)


def _a(x, y):
    return 2 + jnp.sin(2 * jnp.pi * x) * jnp.cos(jnp.pi * y)


def _source(x, y):
    gx, gy = jax.grad(_u_exact, 0), jax.grad(_u_exact, 1)
    fx = jax.grad(lambda x, y: _a(x, y) * gx(x, y), 0)
    fy = jax.grad(lambda x, y: _a(x, y) * gy(x, y), 1)
    return -(fx(x, y) + fy(x, y))


def test_darcy_second_order_on_manufactured_solution():
    errors = []
    for s in (17, 33, 65):
        x = jnp.linspace(0, 1, s)
        X, Y = jnp.meshgrid(x, x, indexing="ij")
        f = jax.vmap(jax.vmap(_source))(X, Y)
        u = darcy(_a(X, Y), f)
        errors.append(float(jnp.max(jnp.abs(u - _u_exact(X, Y)))))
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(orders > 1.95) and np.all(orders < 2.05), (errors, orders)


def _scipy_darcy(a, f, face):
    s = a.shape[0]
    n, h = s - 2, 1.0 / (s - 1)
    def mean(p, q):
        return (p + q) / 2 if face == "arithmetic" else 2 * p * q / (p + q)

    idx = -np.ones((s, s), int)
    idx[1:-1, 1:-1] = np.arange(n * n).reshape(n, n)
    rows, cols, vals = [], [], []
    for i in range(1, s - 1):
        for j in range(1, s - 1):
            diag = 0.0
            for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                c = mean(a[i, j], a[i + di, j + dj]) / h**2
                diag += c
                if idx[i + di, j + dj] >= 0:
                    rows.append(idx[i, j])
                    cols.append(idx[i + di, j + dj])
                    vals.append(-c)
            rows.append(idx[i, j])
            cols.append(idx[i, j])
            vals.append(diag)
    A = sp.csr_matrix((vals, (rows, cols)), shape=(n * n, n * n))
    u = np.zeros((s, s))
    u[1:-1, 1:-1] = spla.spsolve(A, f[1:-1, 1:-1].ravel()).reshape(n, n)
    return u


@pytest.mark.parametrize("face", ["arithmetic", "harmonic"])
def test_darcy_matches_sparse_direct_solve_on_fno_coefficients(face):
    s = 29
    a = threshold(GaussianRandomField((s, s), alpha=2.0, tau=3.0, boundary="neumann")(
        jax.random.key(4)))
    u = darcy(a, 1.0, face=face)
    ref = _scipy_darcy(np.asarray(a), np.ones((s, s)), face)
    np.testing.assert_allclose(u, ref, rtol=0, atol=1e-10 * np.abs(ref).max())
    res = darcy_residual(u, a, 1.0, face=face)
    assert float(jnp.max(jnp.abs(res))) <= 1e-9


def test_darcy_gradients_match_finite_differences(rng):
    s = 13
    x = jnp.linspace(0, 1, s)
    X, Y = jnp.meshgrid(x, x, indexing="ij")
    a, f = _a(X, Y), 1 + X * Y
    w = jnp.asarray(rng.standard_normal((s, s)))

    def loss(a, f):
        return jnp.sum(w * darcy(a, f))

    ga, gf = jax.jit(jax.grad(loss, (0, 1)))(a, f)
    eps = 1e-5
    for g, direction, which in ((ga, rng.standard_normal((s, s)), 0),
                                (gf, rng.standard_normal((s, s)), 1)):
        d = jnp.asarray(direction)
        args_p = (a + eps * d, f) if which == 0 else (a, f + eps * d)
        args_m = (a - eps * d, f) if which == 0 else (a, f - eps * d)
        fd = (loss(*args_p) - loss(*args_m)) / (2 * eps)
        assert abs(float(jnp.vdot(g, d)) - float(fd)) <= 1e-6 * abs(float(fd))
    # batches
    out = jax.vmap(darcy)(jnp.stack([a, 2 * a]))
    np.testing.assert_allclose(out[1], out[0] / 2, rtol=1e-10, atol=1e-14)


def test_darcy_bad_input():
    with pytest.raises(ValueError, match="positive"):
        darcy(-jnp.ones((9, 9)))
    with pytest.raises(ValueError, match="square"):
        darcy(jnp.ones((9, 7)))
    with pytest.raises(ValueError, match="face"):
        darcy(jnp.ones((9, 9)), face="geometric")
    with pytest.raises(ValueError, match="NaN"):
        darcy(jnp.ones((9, 9)).at[2, 2].set(jnp.nan))
    with pytest.raises(Exception, match="max_iters"):
        a = jnp.ones((33, 33)).at[10:20, 5:25].set(1e6)
        jax.block_until_ready(darcy(a, max_iters=3))
