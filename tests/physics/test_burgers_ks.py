"""Burgers vs the exact Cole-Hopf solution, KS vs an independent ODE integrator, gradients."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from jaxspec._core._spectral import dealias_mask
from jaxspec.physics import GaussianRandomField, burgers, burgers_exact, kuramoto_sivashinsky


def _rel(a, b):
    return float(np.linalg.norm(np.asarray(a) - b) / np.linalg.norm(b))


@pytest.fixture(scope="module")
def grf_data():
    """An FNO-benchmark initial condition (alpha 2.5, tau 7, sigma 49), dealiased on n=256."""
    n = 256
    u0 = GaussianRandomField(n, alpha=2.5, tau=7.0, sigma=49.0)(jr.key(3))
    u0 = jnp.fft.irfft(jnp.fft.rfft(u0) * jnp.asarray(dealias_mask((n,)), jnp.complex128), n=n)
    return u0 + 0.05  # a non-zero mean exercises the Galilean shift of the reference


def test_burgers_matches_cole_hopf_smooth():
    n = 128
    x = np.arange(n) / n
    u0 = 0.5 * np.sin(2 * np.pi * x) + 0.2 * np.cos(4 * np.pi * x + 1) + 0.1
    u = burgers(jnp.asarray(u0), nu=0.1, t_final=1.0, dt=1e-3)
    assert _rel(u, burgers_exact(u0, 1.0, nu=0.1)) <= 1e-11


def test_burgers_fno_setting_matches_cole_hopf(grf_data):
    u0 = np.asarray(grf_data)
    u = burgers(grf_data, nu=0.1, t_final=1.0, dt=5e-4)
    assert _rel(u, burgers_exact(u0, 1.0, nu=0.1)) <= 1e-11
    # snapshots land on the intermediate times, and another length rescales correctly
    # (early times of rough data converge at third order: smaller steps there)
    snaps = burgers(grf_data, nu=0.1, t_final=0.5, dt=2.5e-4, num_snapshots=2)
    assert _rel(snaps[0], burgers_exact(u0, 0.25, nu=0.1)) <= 1e-11
    u2 = burgers(grf_data, nu=0.1 * 4, t_final=0.25, dt=2.5e-4, length=2.0)
    assert _rel(u2, burgers_exact(u0, 0.25, nu=0.4, length=2.0)) <= 1e-11


def test_burgers_float32(grf_data):
    u = burgers(grf_data.astype(jnp.float32), nu=0.1, t_final=0.5, dt=1e-3)
    assert u.dtype == jnp.float32
    assert _rel(u, burgers_exact(np.asarray(grf_data), 0.5, nu=0.1)) <= 1e-4


def test_burgers_gradients_match_finite_differences(rng):
    n = 32
    x = np.arange(n) / n
    u0 = jnp.asarray(0.5 * np.sin(2 * np.pi * x) + 0.1 * np.cos(6 * np.pi * x))
    w = jnp.asarray(rng.standard_normal(n))
    d = jnp.asarray(rng.standard_normal(n))

    def loss(u0, nu):
        return jnp.sum(w * burgers(u0, nu=nu, t_final=0.2, dt=1e-2))

    g_u, g_nu = jax.jit(jax.grad(loss, (0, 1)))(u0, 0.1)
    eps = 1e-5
    fd = (loss(u0 + eps * d, 0.1) - loss(u0 - eps * d, 0.1)) / (2 * eps)
    assert abs(float(jnp.vdot(g_u, d)) - float(fd)) <= 1e-6 * abs(float(fd))
    fd = (loss(u0, 0.1 + eps) - loss(u0, 0.1 - eps)) / (2 * eps)
    assert abs(float(g_nu) - float(fd)) <= 1e-6 * abs(float(fd))
    # the plain scan (forward-mode capable) gives the same gradient
    g_plain = jax.grad(lambda u: jnp.sum(w * burgers(u, nu=0.1, t_final=0.2, dt=1e-2,
                                                     checkpoints=None)))(u0)
    np.testing.assert_allclose(g_plain, g_u, rtol=1e-12, atol=1e-14)
    jvp = jax.jvp(lambda u: burgers(u, nu=0.1, t_final=0.2, dt=1e-2, checkpoints=None),
                  (u0,), (d,))[1]
    np.testing.assert_allclose(jnp.vdot(w, jvp), jnp.vdot(g_u, d), rtol=1e-10)


def test_checkpointed_gradient_memory_does_not_grow_with_steps():
    u0 = jnp.sin(2 * jnp.pi * jnp.arange(64.0) / 64)

    def temp_bytes(dt, checkpoints):
        f = jax.jit(jax.grad(lambda u: jnp.sum(burgers(u, nu=0.1, t_final=1.0, dt=dt,
                                                         checkpoints=checkpoints) ** 2)))
        return f.lower(u0).compile().memory_analysis().temp_size_in_bytes

    few, many = temp_bytes(1e-2, 16), temp_bytes(1e-3, 16)
    assert many <= 1.2 * few  # 100 vs 1,000 steps
    assert temp_bytes(1e-3, None) > 5 * many  # the plain scan stores every step


def test_burgers_vmap_over_data_and_viscosity(grf_data):
    u0s = jnp.stack([grf_data, 0.5 * grf_data])
    nus = jnp.array([0.1, 0.2])
    out = jax.vmap(lambda u, nu: burgers(u, nu=nu, t_final=0.1, dt=1.25e-4))(u0s, nus)
    ref = burgers_exact(0.5 * np.asarray(grf_data), 0.1, nu=0.2)
    assert _rel(out[1], ref) <= 1e-11


def test_burgers_bad_input():
    u0 = jnp.zeros(16)
    with pytest.raises(ValueError, match="vmap"):
        burgers(jnp.zeros((2, 16)))
    with pytest.raises(ValueError, match="nu"):
        burgers(u0, nu=0.0)
    with pytest.raises(ValueError, match="NaN"):
        burgers(u0.at[3].set(jnp.nan))
    with pytest.raises(ValueError, match="dt"):
        burgers(u0, dt=-1.0)
    with pytest.raises(TypeError, match="floating"):
        burgers(jnp.zeros(16, jnp.int32))
    # an unstable step: CFL number ~ 30 on a barely viscous, high-amplitude problem
    x = jnp.arange(128) / 128
    with pytest.raises(Exception, match="unstable"):
        jax.block_until_ready(burgers(20 * jnp.sin(2 * jnp.pi * x), nu=1e-3, dt=0.05))


def _ks_galerkin_reference(u0, length, t):
    """scipy DOP853 (rtol 1e-13) on the same dealiased Fourier-Galerkin system."""
    n = u0.size
    k = 2 * np.pi / length * np.fft.rfftfreq(n, 1.0 / n)
    mask = dealias_mask((n,))
    lin = k**2 - k**4

    def rhs(_, y):
        v = y[: k.size] + 1j * y[k.size:]
        u = np.fft.irfft(v, n)
        dv = lin * v - 0.5j * k * mask * np.fft.rfft(u * u)
        return np.concatenate([dv.real, dv.imag])

    v0 = np.fft.rfft(u0) * mask
    sol = solve_ivp(rhs, (0, t), np.concatenate([v0.real, v0.imag]), method="DOP853",
                    rtol=1e-13, atol=1e-13)
    y = sol.y[:, -1]
    return np.fft.irfft(y[: k.size] + 1j * y[k.size:], n)


def test_ks_matches_independent_integrator():
    n, length = 32, 22.0
    x = np.arange(n) * length / n
    u0 = np.cos(2 * np.pi * x / length) * (1 + np.sin(4 * np.pi * x / length))
    u = kuramoto_sivashinsky(jnp.asarray(u0), t_final=2.0, dt=0.01, length=length)
    assert _rel(u, _ks_galerkin_reference(u0, length, 2.0)) <= 1e-8


def test_ks_gradient_matches_finite_differences(rng):
    n, length = 32, 22.0
    x = np.arange(n) * length / n
    u0 = jnp.asarray(np.cos(2 * np.pi * x / length) + 0.3 * np.sin(4 * np.pi * x / length))
    w = jnp.asarray(rng.standard_normal(n))
    d = jnp.asarray(rng.standard_normal(n))

    def loss(u):
        return jnp.vdot(w, kuramoto_sivashinsky(u, t_final=1.0, dt=0.05, length=length))

    g = jax.grad(loss)(u0)
    eps = 1e-5
    fd = (loss(u0 + eps * d) - loss(u0 - eps * d)) / (2 * eps)
    assert abs(float(jnp.vdot(g, d)) - float(fd)) <= 1e-6 * abs(float(fd))
