"""SSM layers: modes agree, against independent references (Van Loan ZOH / bilinear on the
real form of the system, explicit STU sums), transforms, and clear errors."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
import scipy.linalg as sl

import jaxspec.ssm as S

LAYER_SPECS = [
    ("s5", {}),
    ("s5", {"init": "legs_ptd"}),
    ("s5", {"discretisation": "bilinear"}),
    ("s4d", {}),
    ("s4d", {"init": "lin"}),
    ("lru", {}),
    ("real", {}),
    ("real", {"eigenvalue_range": (-1, 1)}),
]


def _make(kind, kw, key, dtype=jnp.float64, d=3, n=6, **extra):
    if kind == "selective":
        return S.SelectiveSSM(d, n, dtype=dtype, key=key, **kw, **extra)
    return S.DiagonalSSM(d, n, kind=kind, dtype=dtype, key=key, **kw, **extra)


@eqx.filter_jit
def _run_steps(layer, x):
    return jax.lax.scan(lambda s, xt: layer.step(s, xt), layer.init_state(), x)[1]


@eqx.filter_jit
def _call(layer, x, mode):
    return layer(x, mode=mode)


@pytest.mark.parametrize(
    "kind, kw", [*LAYER_SPECS, ("selective", {}), ("selective", {"eigenvalue_range": (-1, 1)})]
)
def test_parallel_sequential_step_agree(kind, kw, getkey):
    layer = _make(kind, kw, getkey(), dt_min=0.05, dt_max=0.5)
    x = jr.normal(getkey(), (33, 3))
    yp = _call(layer, x, "parallel")
    ys = _call(layer, x, "sequential")
    np.testing.assert_allclose(yp, ys, rtol=0, atol=1e-12)
    np.testing.assert_allclose(_run_steps(layer, x), yp, rtol=0, atol=1e-12)

    # scan from a state = continuing the sequence
    @eqx.filter_jit
    def two_pieces(layer, x):
        y1, h = layer.scan(x[:20], mode="parallel")
        y2, _ = layer.scan(x[20:], h, mode="sequential")
        return jnp.concatenate([y1, y2])

    np.testing.assert_allclose(two_pieces(layer, x), yp, rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", ["s5", "s4d", "lru", "selective"])
def test_float32_modes_agree_to_1e5(kind, getkey):
    layer = _make(kind, {}, getkey(), dtype=jnp.float32, d=8, n=16)
    x = jr.normal(getkey(), (200, 8), jnp.float32)
    yp = _call(layer, x, "parallel")
    assert yp.dtype == jnp.float32
    np.testing.assert_allclose(
        _call(layer, x, "sequential"), yp, atol=1e-5 * float(jnp.abs(yp).max())
    )
    np.testing.assert_allclose(_run_steps(layer, x), yp, atol=1e-5 * float(jnp.abs(yp).max()))


def _real_form_reference(layer, x):
    """Simulate the layer's real-valued system built from its parameters: each kept complex
    mode becomes a 2x2 rotation-scaling block, discretised by Van Loan's matrix exponential
    (ZOH) or the bilinear formula with scipy; output 2 Re(c x) = 2 (c_r u - c_i w)."""
    lam = -np.exp(np.asarray(layer.lam_log_neg_re)) + 1j * np.asarray(layer.lam_im)
    b = np.asarray(layer.b_re) + 1j * np.asarray(layer.b_im)
    c = np.asarray(layer.c_re[0]) + 1j * np.asarray(layer.c_im[0])
    dt = np.exp(np.asarray(layer.log_dt))
    x = np.asarray(x)
    h = layer.d_model

    def disc(lmb, step, bcol):  # bcol: complex input vector for this mode (len m)
        m = np.array([[lmb.real, -lmb.imag], [lmb.imag, lmb.real]])
        bm = np.stack([bcol.real, bcol.imag])  # (2, m)
        if layer.discretisation == "zoh":
            big = np.zeros((2 + bm.shape[1], 2 + bm.shape[1]))
            big[:2, :2], big[:2, 2:] = m * step, bm * step
            e = sl.expm(big)
            return e[:2, :2], e[:2, 2:]
        inv = np.linalg.inv(np.eye(2) - 0.5 * step * m)
        return inv @ (np.eye(2) + 0.5 * step * m), inv @ bm * step

    y = np.zeros_like(x)
    if layer.kind == "s5":
        for p in range(layer.num_modes):
            a, bb = disc(lam[p], dt[p], b[p])
            z = np.zeros(2)
            for t in range(x.shape[0]):
                z = a @ z + bb @ x[t]
                y[t] += 2 * (c[:, p].real * z[0] - c[:, p].imag * z[1])
    else:  # s4d: one SISO system per channel
        for ch in range(h):
            for p in range(layer.num_modes):
                a, bb = disc(lam[p], dt[ch], b[ch, p : p + 1])
                z = np.zeros(2)
                for t in range(x.shape[0]):
                    z = a @ z + bb[:, 0] * x[t, ch]
                    y[t, ch] += 2 * (c[ch, p].real * z[0] - c[ch, p].imag * z[1])
    return y + np.asarray(layer.d)[None] * x


@pytest.mark.parametrize(
    "kind, disc", [("s5", "zoh"), ("s5", "bilinear"), ("s4d", "zoh"), ("s4d", "bilinear")]
)
def test_matches_real_form_reference(kind, disc, getkey):
    layer = S.DiagonalSSM(
        2, 4, kind=kind, discretisation=disc, dt_min=0.1, dt_max=1.0, key=getkey()
    )
    x = jr.normal(getkey(), (25, 2))
    np.testing.assert_allclose(layer(x), _real_form_reference(layer, x), rtol=1e-10, atol=1e-12)


def test_lru_matches_numpy_recurrence(getkey):
    layer = S.DiagonalSSM(3, 8, kind="lru", r_min=0.5, r_max=0.99, max_phase=np.pi, key=getkey())
    x = np.asarray(jr.normal(getkey(), (30, 3)))
    lam = np.exp(-np.exp(np.asarray(layer.lam_log_neg_re)) + 1j * np.exp(np.asarray(layer.lam_im)))
    assert np.all((np.abs(lam) >= 0.5 - 1e-9) & (np.abs(lam) <= 0.99 + 1e-9))
    gamma = np.sqrt(1 - np.abs(lam) ** 2)  # the LRU normalisation at initialisation
    np.testing.assert_allclose(np.exp(np.asarray(layer.gamma_log)), gamma, rtol=1e-12)
    b = (np.asarray(layer.b_re) + 1j * np.asarray(layer.b_im)) * gamma[:, None]
    c = np.asarray(layer.c_re[0]) + 1j * np.asarray(layer.c_im[0])
    hstate = np.zeros(len(lam), complex)
    ref = []
    for t in range(30):
        hstate = lam * hstate + b @ x[t]
        ref.append(2 * (c @ hstate).real + np.asarray(layer.d) * x[t])
    np.testing.assert_allclose(layer(jnp.asarray(x)), np.array(ref), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["s5", "s4d", "lru", "real"])
def test_bidirectional_is_forward_plus_reversed(kind, getkey):
    layer = S.DiagonalSSM(3, 6, kind=kind, bidirectional=True, key=getkey())
    x = jr.normal(getkey(), (21, 3))
    fwd = eqx.tree_at(
        lambda m: (m.c_re, m.c_im),
        layer,
        (layer.c_re[:1], None if layer.c_im is None else layer.c_im[:1]),
        is_leaf=lambda v: v is None,
    )
    bwd = eqx.tree_at(
        lambda m: (m.c_re, m.c_im),
        layer,
        (layer.c_re[1:], None if layer.c_im is None else layer.c_im[1:]),
        is_leaf=lambda v: v is None,
    )
    dx = layer.d[None] * x
    # forward-only and time-reversed runs with the respective readouts
    one = eqx.tree_at(lambda m: m.d, fwd, jnp.zeros_like(layer.d))
    y_f = _causal(one, x)
    two = eqx.tree_at(lambda m: m.d, bwd, jnp.zeros_like(layer.d))
    y_b = _causal(two, x[::-1])[::-1]
    np.testing.assert_allclose(_call(layer, x, "auto"), y_f + y_b + dx, rtol=1e-10, atol=1e-12)


@eqx.filter_jit
def _causal(layer, x):
    lam_bar, b_bar = layer.discrete()
    hs = S.linear_recurrence(lam_bar, layer._inputs(b_bar, x), mode="sequential")
    return layer._readout(hs, 0)


def test_linear_recurrence_against_loop(getkey):
    a = jr.uniform(getkey(), (40, 3), minval=-1, maxval=1)
    b = jr.normal(getkey(), (40, 3))
    h0 = jr.normal(getkey(), (3,))
    ref, h = [], np.asarray(h0)
    for t in range(40):
        h = np.asarray(a[t]) * h + np.asarray(b[t])
        ref.append(h)
    for mode in ("parallel", "sequential"):
        np.testing.assert_allclose(
            S.linear_recurrence(a, b, mode=mode, h0=h0), np.array(ref), rtol=1e-12, atol=1e-12
        )
    rev = S.linear_recurrence(a[::-1], b[::-1], mode="sequential")[::-1]
    for mode in ("parallel", "sequential"):
        np.testing.assert_allclose(
            S.linear_recurrence(a, b, mode=mode, reverse=True), rev, rtol=1e-12, atol=1e-12
        )
    with pytest.raises(ValueError, match="mode"):
        S.linear_recurrence(a, b, mode="fft")
    with pytest.raises(ValueError, match="shape"):
        S.linear_recurrence(a[:, :2], b)


def test_negative_eigenvalue_range(getkey):
    pos = S.DiagonalSSM(2, 8, kind="real", dt_min=0.5, dt_max=3.0, key=getkey())
    neg = S.DiagonalSSM(
        2, 8, kind="real", dt_min=0.5, dt_max=3.0, eigenvalue_range=(-1, 1), key=getkey()
    )
    lp, ln = (
        eqx.filter_jit(lambda m: m.discrete()[0])(pos),
        eqx.filter_jit(lambda m: m.discrete()[0])(neg),
    )
    assert jnp.all((lp > 0) & (lp < 1))
    assert jnp.all((ln > -1) & (ln < 1)) and jnp.any(ln < 0)
    sel = S.SelectiveSSM(4, 3, eigenvalue_range=(-1, 1), dt_min=1.0, dt_max=5.0, key=getkey())
    a, _, _ = eqx.filter_jit(lambda m, x: jax.vmap(m._terms)(x))(sel, jr.normal(getkey(), (10, 4)))
    assert jnp.all(jnp.abs(a) < 1) and jnp.any(a < 0)


def test_grad_matches_finite_differences(getkey):
    layer = S.DiagonalSSM(2, 4, kind="s5", key=getkey())
    x = jr.normal(getkey(), (16, 2))

    @jax.jit
    def loss(lam_im):
        m = eqx.tree_at(lambda m: m.lam_im, layer, lam_im)
        return jnp.sum(jnp.sin(m(x, mode="parallel")))

    g = jax.grad(loss)(layer.lam_im)
    e = jnp.zeros_like(layer.lam_im).at[1].set(1.0)
    fd = (loss(layer.lam_im + 1e-6 * e) - loss(layer.lam_im - 1e-6 * e)) / 2e-6
    assert float(g[1]) == pytest.approx(float(fd), rel=1e-6, abs=1e-8)


def test_vmap_and_no_retrace(getkey):
    layer = S.DiagonalSSM(3, 4, kind="s4d", key=getkey())
    xs = jr.normal(getkey(), (5, 12, 3))
    f = eqx.filter_jit(eqx.debug.assert_max_traces(lambda m, x: jax.vmap(m)(x), max_traces=1))
    out = f(layer, xs)
    out2 = f(layer, xs + 1.0)
    np.testing.assert_allclose(out[2], layer(xs[2]), atol=1e-12)
    assert out2.shape == (5, 12, 3)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"kind": "s5", "dt_min": 0.0}, "dt_min"),
        ({"kind": "s4d", "dt_min": 1.0, "dt_max": 0.1}, "dt_min"),
        ({"kind": "s5", "eigenvalue_range": (-1, 1)}, "eigenvalue_range"),
        ({"kind": "s5", "init": "lru"}, "does not fit"),
        ({"kind": "lru", "r_max": 1.2}, "r_max"),
        ({"kind": "mamba"}, "kind"),
        ({"kind": "real", "eigenvalue_range": (-2, 1)}, "range"),
        ({"kind": "s5", "discretisation": "euler"}, "discretisation"),
    ],
)
def test_bad_configuration(kwargs, match, getkey):
    with pytest.raises(ValueError, match=match):
        S.DiagonalSSM(3, 4, key=getkey(), **kwargs)


def test_bad_state_size_and_inputs(getkey):
    with pytest.raises(ValueError, match="even"):
        S.DiagonalSSM(3, 5, kind="s5", key=getkey())
    layer = S.DiagonalSSM(3, 4, key=getkey())
    with pytest.raises(ValueError, match=r"jax.vmap"):
        layer(jnp.zeros((2, 10, 3)))
    with pytest.raises(ValueError, match=r"\(length, 3\)"):
        layer(jnp.zeros((10, 4)))
    with pytest.raises(ValueError, match="step"):
        S.DiagonalSSM(3, 4, bidirectional=True, key=getkey()).step(layer.init_state(), jnp.zeros(3))
    with pytest.raises(ValueError, match="time step"):
        layer.step(layer.init_state(), jnp.zeros(4))
