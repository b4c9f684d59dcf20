"""Shared spectral helpers vs scipy and analytic derivatives."""

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.fft as sfft

from jaxspec._core._spectral import dct1, dealias_mask, dst1, fourier_resample
from jaxspec.physics import spectral_derivative, spectral_laplacian


def test_sine_cosine_transforms_match_scipy(rng):
    x = rng.standard_normal((3, 9))
    np.testing.assert_allclose(dst1(jnp.asarray(x)), sfft.dst(x, type=1) / 2, atol=1e-13)
    np.testing.assert_allclose(dct1(jnp.asarray(x)), sfft.dct(x, type=1), atol=1e-13)
    np.testing.assert_allclose(dst1(jnp.asarray(x), axis=0), sfft.dst(x, type=1, axis=0) / 2,
                               atol=1e-13)


@pytest.mark.parametrize("n_old,n_new", [(8, 16), (16, 8), (9, 16), (16, 9), (12, 8), (7, 11)])
def test_fourier_resample_is_exact_for_band_limited_fields(n_old, n_new):
    def f(x):
        return np.sin(2 * np.pi * x) + 0.3 * np.cos(4 * np.pi * x) + 0.1 * np.sin(6 * np.pi * x)

    out = fourier_resample(jnp.asarray(f(np.arange(n_old) / n_old)), (n_new,))
    np.testing.assert_allclose(out, f(np.arange(n_new) / n_new), atol=1e-13)


def test_fourier_resample_2d_upsample_interpolates(rng):
    u = rng.standard_normal((2, 9, 9))
    up = fourier_resample(jnp.asarray(u), (27, 27))
    np.testing.assert_allclose(up[:, ::3, ::3], u, atol=1e-13)
    np.testing.assert_allclose(fourier_resample(up, (9, 9)), u, atol=1e-13)


def test_spectral_derivatives_are_exact_on_trig_polynomials():
    n, length = 32, 3.0
    x = np.arange(n) * length / n
    kx = 2 * np.pi / length
    X, Y = np.meshgrid(x, x, indexing="ij")
    u = np.sin(2 * kx * X) * np.cos(3 * kx * Y)
    du_dx = spectral_derivative(jnp.asarray(u), 1, axis=0, length=length)
    np.testing.assert_allclose(du_dx, 2 * kx * np.cos(2 * kx * X) * np.cos(3 * kx * Y),
                               atol=1e-11)
    lap = spectral_laplacian(jnp.asarray(u), length=length)
    np.testing.assert_allclose(lap, -13 * kx**2 * u, atol=1e-10)
    # leading batch axis, derivative over the last spatial axis only
    batch = jnp.stack([jnp.asarray(u), 2 * jnp.asarray(u)])
    d3 = spectral_derivative(batch, 3, axis=-1, length=length, ndim=2)
    np.testing.assert_allclose(d3[1], 2 * 27 * kx**3 * np.sin(2 * kx * X) * np.sin(3 * kx * Y),
                               atol=1e-9)


def test_dealias_mask_keeps_two_thirds():
    m = dealias_mask((12,))
    assert m.shape == (7,) and m.sum() == 5  # k = 0..4 kept (4 <= 2/3 * 6), 5 and 6 dropped
    assert dealias_mask((12, 12)).shape == (12, 7)


def test_spectral_derivative_rejects_bad_order():
    with pytest.raises(ValueError, match="order"):
        spectral_derivative(jnp.zeros(8), -1)
