"""Gaussian random fields: the sampled spectrum and pointwise variance vs the specified ones."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from jaxspec.physics import GaussianRandomField, threshold


def _shell_ratios(grf, samples):
    """Empirical / specified power, averaged in octave shells of the mode index."""
    c = np.asarray(grf.coefficients(samples))
    power = np.mean(np.abs(c) ** 2, axis=0)
    spec = grf.std() ** 2
    if grf.boundary == "periodic":
        from jaxspec._core._spectral import integer_wavenumbers

        kk = np.sqrt(sum(k.astype(float) ** 2 for k in integer_wavenumbers(grf.shape)))
    else:
        grids = np.meshgrid(*[np.arange(s) for s in spec.shape], indexing="ij")
        kk = np.sqrt(sum(g.astype(float) ** 2 for g in grids)) + 1
    kk = np.broadcast_to(kk, spec.shape)
    keep = spec > 0
    shells = np.floor(np.log2(np.maximum(kk, 1))).astype(int)
    ratios = []
    for sh in np.unique(shells[keep]):
        sel = keep & (shells == sh)
        ratios.append(power[sel].sum() / spec[sel].sum())
    return np.array(ratios)


@pytest.mark.parametrize(
    "shape,boundary",
    [((64,), "periodic"), ((24, 24), "periodic"), ((8, 8, 8), "periodic"),
     ((20, 20), "dirichlet"), ((20, 20), "neumann"), ((48,), "neumann")],
)
def test_power_spectrum_within_5_percent(shape, boundary):
    grf = GaussianRandomField(shape, alpha=2.5, tau=7.0, sigma=49.0, boundary=boundary,
                              length=2.0)
    u = jax.vmap(grf)(jr.split(jr.key(0), 3000))
    assert u.shape == (3000, *shape) and u.dtype == jnp.float64
    r = _shell_ratios(grf, u)
    assert np.all(np.abs(r - 1) < 0.05), r


def test_pointwise_variance_matches_the_covariance():
    # independent of the transforms: var u(x) = sum_k std_k^2 |phi_k(x)|^2
    n, length = 32, 1.5
    grf = GaussianRandomField(n, alpha=2.0, tau=3.0, sigma=5.0, length=length,
                              boundary="dirichlet")
    u = np.asarray(jax.vmap(grf)(jr.split(jr.key(1), 20000)))
    x = np.linspace(0, length, n)
    k = np.arange(1, n - 1)
    phi = np.sqrt(2 / length) * np.sin(np.pi * np.outer(x, k) / length)
    expected = (phi**2) @ (grf.std() ** 2)
    np.testing.assert_allclose(u.var(axis=0)[1:-1], expected[1:-1], rtol=0.05)
    assert np.all(u[:, 0] == 0) and np.all(u[:, -1] == 0)


def test_threshold_and_float32():
    grf = GaussianRandomField((16, 16), alpha=2.0, tau=3.0, boundary="neumann",
                              dtype=jnp.float32)
    a = threshold(grf(jr.key(2)))
    assert a.dtype == jnp.float32
    assert set(np.unique(np.asarray(a))) <= {3.0, 12.0}


@pytest.mark.parametrize(
    "kwargs,match",
    [(dict(shape=(4, 4, 4, 4)), "1 to 3"), (dict(shape=(8,), boundary="robin"), "boundary"),
     (dict(shape=(8,), alpha=-1.0), "alpha"), (dict(shape=(2,), boundary="dirichlet"),
                                               "at least 3")],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GaussianRandomField(**kwargs)
