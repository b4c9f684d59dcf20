"""STU against explicit causal sums, step modes, the sequence model, optimiser groups, tasks."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest

import jaxspec.ssm as S


@pytest.fixture(scope="module")
def filters64():
    return S.spectral_filters(64, 8, cache=False)


def _stu(key, filters, dtype=jnp.float64, **kw):
    stu = S.STU(3, 4, 64, num_filters=8, filters=filters, dtype=dtype, key=key, **kw)
    if stu.m_y is not None:
        stu = eqx.tree_at(
            lambda m: m.m_y, stu, 0.2 * jr.normal(jr.key(9), stu.m_y.shape, dtype) / 4
        )
    return stu


@eqx.filter_jit
def _steps(layer, x):
    return jax.lax.scan(lambda s, xt: layer.step(s, xt), layer.init_state(), x)[1]


@pytest.mark.parametrize("kw", [{}, {"ar_output": 2}, {"use_negative": False, "ar_input": 0}])
def test_stu_convolution_matches_explicit_sums_and_step(kw, filters64, getkey):
    stu = _stu(getkey(), filters64, **kw)
    x = jr.normal(getkey(), (40, 3))  # shorter than the filters
    call = eqx.filter_jit(lambda m, x, mode: m(x, mode=mode))
    y = call(stu, x, "sequential")
    ref = eqx.filter_jit(S.time_domain_stu)(stu, x)
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-12 * float(jnp.abs(ref).max()))
    np.testing.assert_allclose(_steps(stu, x), y, rtol=0, atol=1e-12 * float(jnp.abs(y).max()))
    if stu.m_y is not None:
        np.testing.assert_allclose(call(stu, x, "parallel"), y, atol=1e-12)


def test_stu_float32_step_agrees_and_distilled_path(filters64, getkey):
    stu = _stu(getkey(), filters64, dtype=jnp.float32)
    x = jr.normal(getkey(), (64, 3), jnp.float32)
    y = eqx.filter_jit(lambda m, x: m(x))(stu, x)
    assert y.dtype == jnp.float32
    np.testing.assert_allclose(_steps(stu, x), y, atol=1e-5 * float(jnp.abs(y).max()))
    stu64 = _stu(getkey(), filters64)
    x64 = x.astype(jnp.float64)
    lds = stu64.distill(64)
    assert lds.error < 1e-6
    run = eqx.filter_jit(
        lambda m, x, lds: jax.lax.scan(
            lambda s, xt: m.step_distilled(s, xt, lds), m.init_distilled_state(lds), x
        )[1]
    )
    y64 = eqx.filter_jit(lambda m, x: m(x))(stu64, x64)
    np.testing.assert_allclose(run(stu64, x64, lds), y64, atol=1e-5 * float(jnp.abs(y64).max()))


def test_stu_gradients(filters64, getkey):
    stu = _stu(getkey(), filters64)
    x = jr.normal(getkey(), (20, 3))

    @jax.jit
    def loss(m):
        return jnp.sum(jnp.tanh(m(x)))

    g = eqx.filter_grad(loss)(stu)
    assert float(jnp.abs(g.phi).max()) == 0.0 and float(jnp.abs(g.sigma).max()) == 0.0
    e = jnp.zeros_like(stu.m_neg).at[2, 1, 3].set(1e-6)
    plus = eqx.tree_at(lambda m: m.m_neg, stu, stu.m_neg + e)
    minus = eqx.tree_at(lambda m: m.m_neg, stu, stu.m_neg - e)
    fd = (loss(plus) - loss(minus)) / 2e-6
    assert float(g.m_neg[2, 1, 3]) == pytest.approx(float(fd), rel=1e-6)


def test_stu_bad_input(filters64, getkey):
    stu = _stu(getkey(), filters64)
    with pytest.raises(ValueError, match="longer than the STU's filters"):
        stu(jnp.zeros((65, 3)))
    with pytest.raises(ValueError, match=r"\(length, 3\)"):
        stu(jnp.zeros((10, 5)))
    with pytest.raises(ValueError, match=r"jax\.vmap"):
        stu(jnp.zeros((2, 10, 3)))
    with pytest.raises(ValueError, match="filters"):
        S.STU(3, 4, 32, num_filters=8, filters=filters64, key=getkey())


@pytest.mark.parametrize(
    "layer, kw",
    [("s5", {}), ("stu", {"num_filters": 6}), ("selective", {"eigenvalue_range": (-1, 1)})],
)
def test_sequence_model_step_equals_call(layer, kw, getkey):
    model = S.SequenceModel(
        3,
        vocab_size=5,
        d_model=8,
        num_layers=2,
        state_size=4,
        layer=layer,
        layer_kwargs=kw,
        pooling=None,
        seq_len=32,
        key=getkey(),
    )
    x = jr.randint(getkey(), (20,), 0, 5)
    y = eqx.filter_jit(lambda m, x: m(x))(model, x)
    ys = eqx.filter_jit(lambda m, x: jax.lax.scan(lambda s, t: m.step(s, t), m.init_state(), x)[1])(
        model, x
    )
    np.testing.assert_allclose(ys, y, rtol=0, atol=1e-10)


def test_sequence_model_pooling_ignores_padding(getkey):
    model = S.SequenceModel(
        2, input_dim=1, d_model=8, num_layers=1, state_size=4, layer="s4d", key=getkey()
    )
    x = jr.normal(getkey(), (12, 1))
    x2 = x.at[7:].set(5.0)
    f = eqx.filter_jit(lambda m, x, n: m(x, n))
    np.testing.assert_allclose(f(model, x, 7), f(model, x2, 7), atol=1e-12)
    with pytest.raises(ValueError, match="vmap"):
        model(jnp.zeros((2, 12, 1)))


def _first_update(tx, grads, params):
    @jax.jit
    def run(grads, params):
        with jax.numpy_dtype_promotion("standard"):
            return tx.update(grads, tx.init(params), params)[0]

    return run(grads, params)


def test_optimizer_groups(filters64, getkey):
    model = S.SequenceModel(
        2,
        vocab_size=4,
        d_model=3,
        num_layers=1,
        state_size=4,
        layer="stu",
        layer_kwargs={"num_filters": 8},
        seq_len=64,
        key=getkey(),
    )
    labels = S.param_labels(model)
    assert labels.blocks[0].layer.phi == "frozen"
    assert labels.blocks[0].norm1.weight == "no_decay"
    assert labels.head.weight == "default"
    ssm = S.SequenceModel(2, vocab_size=4, d_model=3, num_layers=1, state_size=4, key=getkey())
    assert S.param_labels(ssm).blocks[0].layer.lam_im == "dynamics"
    tx = S.optimizer(1e-2, ssm, dynamics_lr_scale=0.1, weight_decay=0.0, clip=None)
    params = eqx.filter(ssm, eqx.is_array)
    grads = jax.tree_util.tree_map(jnp.ones_like, params)
    upd = _first_update(tx, grads, params)
    # the first Adam step moves every parameter by lr (times the group's scale)
    np.testing.assert_allclose(jnp.abs(upd.blocks[0].layer.lam_im), 1e-3, rtol=1e-4)
    np.testing.assert_allclose(jnp.abs(upd.head.weight), 1e-2, rtol=1e-4)
    tx2 = S.optimizer(1e-2, model)
    p2 = eqx.filter(model, eqx.is_array)
    u2 = _first_update(tx2, jax.tree_util.tree_map(jnp.ones_like, p2), p2)
    assert float(jnp.abs(u2.blocks[0].layer.phi).max()) == 0.0
    assert isinstance(tx2, optax.GradientTransformation)


def test_fit_learns_an_lds(getkey):
    train = S.lds(128, seq_len=48, state_dim=4, spectrum="diagonal", seed=0)
    model = S.SequenceModel(
        2, input_dim=2, d_model=16, num_layers=1, state_size=8, pooling=None, key=getkey()
    )
    before = S.evaluate(model, train)["loss"]
    res = S.fit(
        model, train, steps=150, batch_size=16, learning_rate=1e-2, key=getkey(), progress=False
    )
    after = S.evaluate(res.model, train)["loss"]
    assert after < before / 5, (before, after)


# --------------------------------------------------------------------------------- tasks
def test_parity_targets():
    t = S.parity(50, min_len=3, max_len=12, seed=3)
    for i in range(50):
        bits = t.inputs[i, : t.lengths[i]] - 1
        assert t.targets[i, t.lengths[i] - 1] == bits.sum() % 2
        assert np.all(t.inputs[i, t.lengths[i] :] == 0) and t.mask[i].sum() == t.lengths[i]


@pytest.mark.parametrize("brackets", [False, True])
def test_modular_arithmetic_matches_python_eval(brackets):
    m = 5
    t = S.modular_arithmetic(200, modulus=m, max_len=25, brackets=brackets, seed=1)
    sym = {m + 1: "+", m + 2: "-", m + 3: "*", m + 4: "(", m + 5: ")"}
    for i in range(200):
        toks = t.inputs[i, : t.lengths[i]]
        expr = "".join(sym.get(int(k), str(int(k) - 1)) for k in toks)
        assert eval(expr) % m == t.targets[i], expr
    assert brackets == any((t.inputs == m + 4).ravel())


def test_listops_matches_independent_evaluator():
    t = S.listops(100, max_len=64, seed=2)

    def ev(tokens):
        stack = []
        for k in tokens:
            if 11 <= k <= 14:
                stack.append([("MAX", "MIN", "MED", "SM")[k - 11]])
            elif k == 15:
                op, *args = stack.pop()
                v = {
                    "MAX": max(args),
                    "MIN": min(args),
                    "SM": sum(args) % 10,
                    "MED": sorted(args)[(len(args) - 1) // 2],
                }[op]
                if not stack:
                    return v
                stack[-1].append(v)
            else:
                stack[-1].append(k - 1)
        raise AssertionError("unterminated")

    for i in range(100):
        assert ev([int(k) for k in t.inputs[i, : t.lengths[i]]]) == t.targets[i]


def test_recall_induction_copy_digits():
    ar = S.associative_recall(20, num_pairs=5, seed=0)
    for row, y in zip(ar.inputs, ar.targets, strict=True):
        q = row[-1]
        where = np.flatnonzero(row[:-1:2] == q)[0]
        assert row[2 * where + 1] - 16 - 1 == y
    ih = S.induction_heads(20, seq_len=32, seed=0)
    for row, y in zip(ih.inputs, ih.targets, strict=True):
        first = np.flatnonzero(row == 1)[0]
        assert row[first + 1] - 2 == y and row[-1] == 1
    sc = S.selective_copying(10, seq_len=20, num_tokens=4, seed=0)
    for row, y in zip(sc.inputs, sc.targets, strict=True):
        data = row[:20][row[:20] >= 3] - 3
        np.testing.assert_array_equal(y[21:], data)
    train, test = S.sequential_digits()
    assert len(train) + len(test) == 1797 and train.inputs.shape[1:] == (64, 1)
    assert set(np.unique(test.targets)) == set(range(10))
    batch = train.inputs[:6]
    moved = S.shift_digits(np.random.default_rng(0), batch)
    for a, b in zip(batch.reshape(-1, 8, 8), moved.reshape(-1, 8, 8), strict=True):
        padded = np.pad(a, 1)
        shifts = [
            padded[1 - dy : 9 - dy, 1 - dx : 9 - dx] for dy in (-1, 0, 1) for dx in (-1, 0, 1)
        ]
        assert any(np.array_equal(b, s) for s in shifts)
