"""PINO residuals on solver trajectories, the Spectral-Refiner workflow, Transform-Once."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from jaxspec import fno
from jaxspec._core._spectral import dealias_mask
from jaxspec.physics import (
    GaussianRandomField,
    burgers,
    darcy,
    navier_stokes_2d,
    navier_stokes_forcing,
    threshold,
)


def test_burgers_residual_vanishes_on_solutions_only():
    n = 64
    x = np.arange(n) / n
    u0 = jnp.asarray(0.4 * np.sin(2 * np.pi * x) + 0.1 * np.cos(4 * np.pi * x))
    dt = 1e-3
    traj = jnp.concatenate([u0[None], burgers(u0, nu=0.1, t_final=0.02, dt=dt / 4,
                                                   num_snapshots=20)])
    res = fno.burgers_residual(traj, nu=0.1, dt=dt)
    assert res.shape == (19, n)
    scale = float(jnp.max(jnp.abs(jnp.diff(traj, axis=0)))) / dt
    assert float(jnp.max(jnp.abs(res))) < 1e-4 * scale  # O(dt^2) time differences
    wrong = fno.burgers_residual(traj, nu=0.2, dt=dt)
    assert float(fno.pino_loss(wrong)) > 1e4 * float(fno.pino_loss(res))
    with pytest.raises(ValueError, match="uniform time grid"):
        fno.burgers_residual(traj[:2], nu=0.1, dt=dt)


def test_navier_stokes_and_darcy_residuals():
    s = 32
    w0 = GaussianRandomField((s, s), alpha=2.5, tau=7.0, sigma=7.0**1.5)(jr.key(0))
    mask = jnp.asarray(dealias_mask((s, s)), jnp.complex128)
    w0 = jnp.fft.irfft2(jnp.fft.rfft2(w0) * mask, s=(s, s))  # what the solver evolves
    f = navier_stokes_forcing(s)
    dt = 0.01
    traj = jnp.concatenate([w0[None], navier_stokes_2d(w0, nu=1e-3, t_final=0.1, dt=dt / 4,
                                                       forcing=f, num_snapshots=10)])
    res = fno.navier_stokes_residual(traj, nu=1e-3, dt=dt, forcing=f, dealias=True)
    no_force = fno.navier_stokes_residual(traj, nu=1e-3, dt=dt, dealias=True)
    assert float(jnp.max(jnp.abs(res))) < 1e-3 * float(jnp.max(jnp.abs(no_force)))
    # without the projection the residual sees the modes the truncated solver discards
    raw = fno.navier_stokes_residual(traj, nu=1e-3, dt=dt, forcing=f)
    assert float(jnp.max(jnp.abs(raw))) > 10 * float(jnp.max(jnp.abs(res)))
    a = threshold(GaussianRandomField((17, 17), boundary="neumann")(jr.key(1)))
    u = darcy(a)
    assert float(jnp.max(jnp.abs(fno.darcy_residual(u, a)))) < 1e-9


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from jaxspec.physics import datasets

    ds = datasets.make("burgers", 100, resolution=64, solve_resolution=128, dt=1e-3,
                       cache_dir=tmp_path_factory.mktemp("d"), progress=False)
    x, y = jnp.asarray(ds["a"][:, None]), jnp.asarray(ds["u"][:, None])
    m = fno.FNO(1, 1, 6, 16, ndim=1, key=jr.key(0))
    cfg = fno.TrainConfig(epochs=25, batch_size=10, step_size=10, normalize_inputs=True,
                          normalize_outputs=True)
    res = fno.fit(m, (x[:80], y[:80]), (x[80:], y[80:]), cfg, progress=False)
    return res, (x, y)


def test_spectral_refine_trains_only_the_widened_last_layer(trained):
    res, (x, y) = trained
    widened = fno.widen_last_layer(res.operator.model, (64,))
    assert widened.spectral[-1].modes == (33,)
    # widening alone does not change the function (to float32 round-off: the zero-padded
    # modes enter the truncated-DFT sums)
    np.testing.assert_allclose(jax.vmap(widened)(x[:3]), jax.vmap(res.operator.model)(x[:3]),
                               rtol=1e-5, atol=1e-6)
    cfg = fno.TrainConfig(epochs=8, batch_size=10, step_size=4, loss="sobolev:-1")
    ref = fno.spectral_refine(res.operator, (x[:80], y[:80]), (x[80:], y[80:]), cfg,
                              progress=False)
    before, after = res.operator.model, ref.operator.model
    np.testing.assert_array_equal(before.spectral[0].weights, after.spectral[0].weights)
    np.testing.assert_array_equal(before.proj2.weight, after.proj2.weight)
    np.testing.assert_array_equal(ref.operator.out.std, res.operator.out.std)
    changed = after.spectral[-1].weights[:, :, :, 6:]
    assert float(jnp.max(jnp.abs(changed))) > 0  # the new high modes were trained
    assert ref.history[-1]["test_l2"] < 1.5 * res.history[-1]["test_l2"] + 1e-3


def test_t1_dft_learns_burgers(trained):
    _, (x, y) = trained
    model = fno.T1(1, 1, 12, 24, ndim=1, key=jr.key(1))
    cfg = fno.TrainConfig(epochs=30, batch_size=10, step_size=10, normalize_inputs=True,
                          normalize_outputs=True)
    res = fno.fit(model, (x[:80], y[:80]), (x[80:], y[80:]), cfg, progress=False)
    assert res.history[-1]["test_l2"] < 0.05
    # Fourier-series coefficients do not depend on the grid: evaluate at half resolution
    coarse = fno.evaluate(res.operator, x[80:, :, ::2], y[80:, :, ::2])
    assert coarse < 2 * res.history[-1]["test_l2"] + 0.01
    freq = fno.T1(1, 1, 12, 24, ndim=1, inverse=False, key=jr.key(1))(x[0])
    assert freq.shape == (2, 12)
    with pytest.raises(ValueError, match="transform"):
        fno.T1(1, 1, 4, 8, ndim=1, transform="dst", key=jr.key(0))


def test_t1_dct_beats_the_mean_predictor_on_darcy(tmp_path):
    from jaxspec.physics import datasets

    ds = datasets.make("darcy", 100, resolution=15, refine=2, cache_dir=tmp_path,
                       progress=False)
    x, y = jnp.asarray(ds["a"][:, None]), jnp.asarray(ds["u"][:, None])
    mean = jnp.mean(y[:80], axis=0)
    baseline = float(jnp.mean(jax.vmap(lambda v: fno.relative_lp(mean, v))(y[80:])))
    model = fno.T1(1, 1, (7, 7), 24, transform="dct", key=jr.key(1))
    cfg = fno.TrainConfig(epochs=30, batch_size=10, step_size=10, normalize_inputs=True,
                          normalize_outputs=True)
    res = fno.fit(model, (x[:80], y[:80]), (x[80:], y[80:]), cfg, progress=False)
    # 0.59 x the baseline with mode mixing; 0.75 x when each layer acted per frequency
    assert res.history[-1]["test_l2"] < 0.7 * baseline, (res.history[-1], baseline)


@pytest.mark.parametrize("transform", ["dft", "dct"])
def test_t1_learns_a_map_that_couples_modes(transform):
    # multiplication by 1 + cos(2 pi x) / 2 couples each mode to its neighbours: a T1 whose layers
    # acted on every frequency separately stays at 0.29-0.33 here; mode mixing gives 0.09
    n = 64
    a = jax.vmap(GaussianRandomField((n,), alpha=2.5, tau=5.0))(jr.split(jr.key(0), 120))
    y = (a * jnp.asarray(1 + 0.5 * np.cos(2 * np.pi * np.arange(n) / n))[None])[:, None]
    model = fno.T1(1, 1, 12, 16, ndim=1, transform=transform, key=jr.key(1))
    cfg = fno.TrainConfig(epochs=30, batch_size=10, step_size=10, normalize_inputs=True,
                          normalize_outputs=True)
    res = fno.fit(model, (a[:100, None], y[:100]), (a[100:, None], y[100:]), cfg,
                  progress=False)
    assert res.history[-1]["test_l2"] < 0.15
