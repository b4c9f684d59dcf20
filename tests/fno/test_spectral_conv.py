"""Spectral convolution vs exact Fourier multipliers; Sobolev norms vs analytic values."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from jaxspec.fno import SpectralConv, relative_lp, relative_sobolev, sobolev_norm


def _set_multiplier(conv, fn):
    """Weights W(k) = fn(k) (angular wavenumbers on [0, 1)) for a 1->1 channel layer."""
    modes = conv.modes
    ks = [np.concatenate([np.arange(m), np.arange(-m, 0)]) for m in modes[:-1]]
    ks.append(np.arange(modes[-1]))
    grids = np.meshgrid(*[2 * np.pi * k for k in ks], indexing="ij")
    w = fn(*grids)
    weights = np.stack([w.real, w.imag])[:, None, None]
    return jax.tree_util.tree_map(lambda _: jnp.asarray(weights), conv)


@pytest.mark.parametrize("n", [32, 64])
def test_derivative_multiplier_is_exact_on_sines_at_any_resolution(n):
    conv = _set_multiplier(SpectralConv(1, 1, 8, ndim=1, key=jr.key(0)), lambda k: 1j * k)
    x = np.arange(n) / n
    u = np.sin(2 * np.pi * 3 * x) + 0.5 * np.cos(2 * np.pi * 7 * x)
    du = conv(jnp.asarray(u)[None])[0]
    exact = 6 * np.pi * np.cos(6 * np.pi * x) - 7 * np.pi * np.sin(14 * np.pi * x)
    np.testing.assert_allclose(du, exact, atol=1e-12)
    # modes above the kept ones are removed
    high = conv(jnp.asarray(np.sin(2 * np.pi * 9 * x))[None])[0]
    assert float(jnp.max(jnp.abs(high))) < 1e-13


def test_heat_semigroup_multiplier_2d_and_3d():
    nu_t = 1e-3
    for d, n in ((2, 24), (3, 12)):
        conv = _set_multiplier(SpectralConv(1, 1, 4, ndim=d, key=jr.key(1)),
                               lambda *k: np.exp(-nu_t * sum(kk**2 for kk in k)) + 0j)
        x = np.arange(n) / n
        grids = np.meshgrid(*([x] * d), indexing="ij")
        modes = [(1, 2, 3)[:d], (-3, 1, 2)[:d]]
        u = sum(np.sin(2 * np.pi * sum(m * g for m, g in zip(mm, grids, strict=True)))
                for mm in modes)
        ku2 = [4 * np.pi**2 * sum(m * m for m in mm) for mm in modes]
        exact = sum(np.exp(-nu_t * k2) * np.sin(2 * np.pi * sum(m * g for m, g in
                                                                zip(mm, grids, strict=True)))
                    for k2, mm in zip(ku2, modes, strict=True))
        out = conv(jnp.asarray(u)[None])[0]
        assert out.dtype == jnp.float64
        np.testing.assert_allclose(out, exact, atol=1e-12)


def test_spectral_conv_bad_input():
    conv = SpectralConv(3, 5, (4, 6), key=jr.key(2))
    assert conv(jnp.zeros((3, 12, 16))).shape == (5, 12, 16)
    with pytest.raises(ValueError, match="vmap"):
        conv(jnp.zeros((2, 3, 12, 16)))
    with pytest.raises(ValueError, match="channels"):
        conv(jnp.zeros((4, 12, 16)))
    with pytest.raises(ValueError, match="modes"):
        conv(jnp.zeros((3, 6, 16)))  # 2 * 4 > 6 on axis 0
    with pytest.raises(ValueError, match="ndim"):
        SpectralConv(1, 1, 4, key=jr.key(0))


@pytest.mark.parametrize("s", [-1.0, 0.0, 1.0, 2.0])
def test_sobolev_norms_are_analytic_on_trig_fields(s):
    # 1D: u = sin(2 pi 3 x) + 0.5 cos(2 pi 5 x) on [0, 2)
    n, length = 64, 2.0
    x = np.arange(n) * length / n
    k1, k2 = 2 * np.pi * 3 / length, 2 * np.pi * 5 / length
    u = np.sin(k1 * x) + 0.5 * np.cos(k2 * x)
    exact = np.sqrt(length / 2 * ((1 + k1**2) ** s + 0.25 * (1 + k2**2) ** s))
    np.testing.assert_allclose(sobolev_norm(jnp.asarray(u)[None], s, length=length), exact,
                               rtol=1e-13)
    # 2D with a constant: c + sin(2 pi (x + 2 y)), unit square, Nyquist-free
    n = 16
    xg = np.arange(n) / n
    X, Y = np.meshgrid(xg, xg, indexing="ij")
    v = 0.7 + np.sin(2 * np.pi * (X + 2 * Y))
    k2d = 4 * np.pi**2 * 5
    exact2 = np.sqrt(0.49 + 0.5 * (1 + k2d) ** s)
    np.testing.assert_allclose(sobolev_norm(jnp.asarray(v), s, ndim=2), exact2, rtol=1e-13)


def test_relative_losses():
    t = jnp.sin(2 * jnp.pi * jnp.arange(32.0) / 32)[None]
    assert float(relative_lp(1.1 * t, t)) == pytest.approx(0.1, rel=1e-12)
    assert float(relative_sobolev(1.1 * t, t, -1.0)) == pytest.approx(0.1, rel=1e-12)
    with pytest.raises(ValueError, match="same shape"):
        relative_lp(t, t[:, :16])


def test_cp_factorised_conv_equals_its_dense_reconstruction():
    from jaxspec.fno import CPSpectralConv, spectral_conv_nd

    for shape, modes in (((32,), (5,)), ((16, 18), (3, 4)), ((8, 10, 12), (2, 3, 2))):
        conv = CPSpectralConv(3, 4, modes, rank=5, key=jr.key(0))
        x = jr.normal(jr.key(1), (3, *shape))
        np.testing.assert_allclose(conv(x), spectral_conv_nd(x, conv.dense(), modes),
                                   atol=1e-14)
    small = CPSpectralConv(64, 64, (16,), rank=0.1, key=jr.key(0))
    assert small.num_parameters <= 0.11 * 2 * 64 * 64 * 16
    from jaxspec.fno import FNO

    model = FNO(1, 1, 8, 16, ndim=1, factorization="cp", rank=4, key=jr.key(2))
    assert model(jnp.zeros((1, 32))).shape == (1, 32)
    with pytest.raises(ValueError, match="rank"):
        CPSpectralConv(2, 2, (4,), rank=1.5, key=jr.key(0))


def test_tucker_factorised_conv_matches_dense_weights():
    import equinox as eqx

    from jaxspec.fno import FNO, TuckerSpectralConv, spectral_conv_nd, tucker_ranks

    for shape, modes in (((32,), (5,)), ((16, 18), (3, 4)), ((8, 10, 12), (2, 3, 2))):
        conv = TuckerSpectralConv(3, 4, modes, rank=(2, 3, *(2,) * len(modes)), key=jr.key(0))
        x = jnp.asarray(np.random.default_rng(1).normal(size=(3, *shape)))
        both = eqx.filter_jit(lambda c, x: (c(x), spectral_conv_nd(x, c.dense(), c.modes)))
        np.testing.assert_allclose(*both(conv, x), atol=1e-14)
        # Full rank with identity factors and the core set to arbitrary dense weights is the
        # dense layer itself.
        mshape = (*(2 * m for m in modes[:-1]), modes[-1])
        w = jnp.asarray(np.random.default_rng(2).normal(size=(2, 3, 4, *mshape)))
        full = TuckerSpectralConv(3, 4, modes, rank=(3, 4, *mshape), key=jr.key(0))
        eye = lambda n: jnp.asarray(np.stack([np.eye(n), np.zeros((n, n))]))
        full = eqx.tree_at(lambda c: (c.core, c.u_in, c.u_out, c.c), full,
                           (w, eye(3), eye(4), tuple(eye(n) for n in mshape)))
        np.testing.assert_allclose(eqx.filter_jit(lambda c, x: c(x))(full, x),
                                   spectral_conv_nd(x, w, modes), atol=1e-13)
    ranks = tucker_ranks(0.1, 64, 64, (16,))
    small = TuckerSpectralConv(64, 64, (16,), rank=0.1, key=jr.key(0))
    assert small.ranks == ranks and small.num_parameters <= 0.1 * 2 * 64 * 64 * 16
    assert small.num_parameters >= 0.05 * 2 * 64 * 64 * 16  # close to the budget
    model = FNO(1, 1, (4, 4), 8, factorization="tucker", rank=0.5, key=jr.key(2))
    assert eqx.filter_eval_shape(model, jnp.zeros((1, 16, 16))).shape == (1, 16, 16)
    with pytest.raises(ValueError, match="Tucker `rank`"):
        TuckerSpectralConv(2, 2, (4,), rank=(2, 2), key=jr.key(0))
    with pytest.raises(ValueError, match="factorization"):
        FNO(1, 1, 4, 8, ndim=1, factorization="tt", key=jr.key(0))


def test_rollout_of_the_heat_step_is_the_heat_semigroup():
    import equinox as eqx

    from jaxspec.fno import Rollout
    from jaxspec.fno._train import loss_fn

    nu_dt, n, steps = 2e-3, 32, 6
    heat = _set_multiplier(SpectralConv(1, 1, 8, ndim=1, key=jr.key(1)),
                           lambda k: np.exp(-nu_dt * k**2) + 0j)

    class LastFrame(eqx.Module):  # a 3-frame window; the step acts on the newest frame
        conv: SpectralConv

        def __call__(self, win):
            return self.conv(win[-1:])

    x = np.arange(n) / n
    frame = lambda t: (np.exp(-nu_dt * t * (2 * np.pi * 3) ** 2) * np.sin(2 * np.pi * 3 * x)
                       + np.exp(-nu_dt * t * (2 * np.pi * 5) ** 2) * np.cos(2 * np.pi * 5 * x))
    window = jnp.asarray(np.stack([frame(t) for t in range(3)]))
    exact = np.stack([frame(t) for t in range(3, 3 + steps)])
    for remat in (False, True):
        model = Rollout(LastFrame(heat), steps=steps, window=3, remat=remat)
        np.testing.assert_allclose(model(window), exact, atol=1e-12)
    # Gradients through the rollout are the same with and without rematerialisation.
    target = jnp.asarray(exact) + 0.01
    grads = [jax.grad(lambda m: loss_fn("l2_per_channel")(m(window), target))(
        Rollout(LastFrame(heat), steps=steps, window=3, remat=r)) for r in (False, True)]
    np.testing.assert_allclose(grads[0].model.conv.weights, grads[1].model.conv.weights,
                               rtol=1e-10)
    per = loss_fn("l2_per_channel")(target, jnp.asarray(exact))
    ref = np.mean([np.linalg.norm(target[i] - exact[i]) / np.linalg.norm(exact[i])
                   for i in range(steps)])
    assert float(per) == pytest.approx(ref, rel=1e-12)
    with pytest.raises(ValueError, match="window of 3 frames"):
        Rollout(LastFrame(heat), steps=steps, window=3)(window[:2])
    with pytest.raises(ValueError, match="`steps`"):
        Rollout(LastFrame(heat), steps=0, window=3)


@pytest.mark.parametrize("shape,modes", [((10,), (6,)), ((12, 8), (6, 5)), ((9, 6, 7), (3, 2, 4)),
                                         ((64,), (16,))])
def test_truncated_dft_equals_the_fft_path(shape, modes):
    # Odd and even sizes, Nyquist bins kept (10 points, 6 modes; 8 points, 5 modes) and every
    # row of an axis kept (12 rows, 6 modes), a leading batch axis; float64 and float32.
    from jaxspec.fno import spectral_conv_nd

    rng = np.random.default_rng(0)
    mshape = (*(2 * m for m in modes[:-1]), modes[-1])
    w = jnp.asarray(rng.normal(size=(2, 3, 2, *mshape)))
    x = jnp.asarray(rng.normal(size=(4, 3, *shape)))
    fft = spectral_conv_nd(x, w, modes, method="fft")
    dft = spectral_conv_nd(x, w, modes, method="dft")
    assert dft.shape == (4, 2, *shape) and dft.dtype == jnp.float64
    np.testing.assert_allclose(dft, fft, atol=1e-13 * float(jnp.max(jnp.abs(fft))))
    # against numpy's FFT, sample by sample
    index = [np.r_[0:m, n - m:n] for n, m in zip(shape[:-1], modes[:-1], strict=True)]
    index.append(np.arange(modes[-1]))
    xh = np.fft.rfftn(np.asarray(x), axes=tuple(range(2, 2 + len(shape))))
    block = xh[(slice(None), slice(None), *np.ix_(*index))]
    wc = np.asarray(w[0]) + 1j * np.asarray(w[1])
    mixed = np.einsum("bi...,io...->bo...", block, wc)
    full = np.zeros((4, 2, *xh.shape[2:]), complex)
    full[(slice(None), slice(None), *np.ix_(*index))] = mixed
    ref = np.fft.irfftn(full, s=shape, axes=tuple(range(2, 2 + len(shape))))
    np.testing.assert_allclose(dft, ref, atol=1e-12)
    x32, w32 = x.astype(jnp.float32), w.astype(jnp.float32)
    out32 = spectral_conv_nd(x32, w32, modes, method="dft")
    assert out32.dtype == jnp.float32
    np.testing.assert_allclose(out32, ref, atol=2e-5 * np.abs(ref).max())
    with pytest.raises(ValueError, match="method"):
        spectral_conv_nd(x, w, modes, method="matmul")


def test_batched_layers_equal_vmap_and_check_their_input():
    import equinox as eqx

    from jaxspec.fno import CPSpectralConv, TuckerSpectralConv

    x = jnp.asarray(np.random.default_rng(3).normal(size=(5, 3, 12, 10)))
    for layer in (SpectralConv(3, 4, (3, 4), key=jr.key(0)),
                  CPSpectralConv(3, 4, (3, 4), rank=3, key=jr.key(1)),
                  TuckerSpectralConv(3, 4, (3, 4), rank=0.5, key=jr.key(2))):
        both = eqx.filter_jit(lambda m, x: (m.batched(x), jax.vmap(m)(x)))
        np.testing.assert_allclose(*both(layer, x), atol=1e-14)
    with pytest.raises(ValueError, match=r"\(batch, channels"):
        layer.batched(x[0])
    with pytest.raises(ValueError, match="axis 1"):
        layer.batched(x[:, :2])
