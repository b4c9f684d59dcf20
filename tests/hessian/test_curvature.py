import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

import jaxspec.hessian as jh
import jaxspec.linalg as jl
from tests.hessian.conftest import cross_entropy, loss, model


def _dense_op(problem, data=None, **kw):
    mv, active = jh.curvature_matvec(loss if "curvature" not in kw or kw["curvature"] in (
        "hessian", "empirical_fisher") else None, problem.params, data or problem.data, **kw)
    return np.asarray(jl.materialize(mv, active, active))


def test_hessian_operator_matches_jax_hessian(problem, dense_eigh):
    H = dense_eigh[0]
    np.testing.assert_allclose(_dense_op(problem), H, atol=1e-12)


def test_ggn_and_fisher_match_dense_definitions(problem):
    J = problem.dense_jacobian()  # (n*c, P)
    logits = np.asarray(model(problem.params, problem.x))
    n, c = logits.shape
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    blocks = [(np.diag(pi) - np.outer(pi, pi)) / n for pi in p]
    H_out = np.zeros((n * c, n * c))
    for i, b in enumerate(blocks):
        H_out[i * c:(i + 1) * c, i * c:(i + 1) * c] = b
    G = J.T @ H_out @ J
    ggn = _dense_op(problem, curvature="ggn", model_fn=model, output_loss=cross_entropy)
    np.testing.assert_allclose(ggn, G, atol=1e-12)
    fisher = _dense_op(problem, curvature="fisher", model_fn=model, likelihood="categorical")
    np.testing.assert_allclose(fisher, G, atol=1e-12)  # canonical link: Fisher == GGN
    # gaussian likelihood: J^T J / n
    targets = jax.nn.one_hot(problem.y, c, dtype=problem.x.dtype)
    fg = _dense_op(problem, (problem.x, targets), curvature="fisher", model_fn=model,
                   likelihood="gaussian")
    np.testing.assert_allclose(fg, J.T @ J / n, atol=1e-12)


def test_empirical_fisher_matches_per_example_gradients(problem):
    def one(x, y):
        return ravel_pytree(jax.grad(loss)(problem.params, (x[None], y[None])))[0]

    G = np.asarray(jax.vmap(one)(problem.x, problem.y))
    ef = _dense_op(problem, curvature="empirical_fisher")
    np.testing.assert_allclose(ef, G.T @ G / G.shape[0], atol=1e-12)


def test_batches_weighted_by_true_counts(problem):
    v = jax.tree.map(lambda a: jnp.cos(jnp.arange(a.size, dtype=a.dtype)).reshape(a.shape),
                     problem.params)
    mv_full, act = jh.curvature_matvec(loss, problem.params, problem.data)
    mv_b, _ = jh.curvature_matvec(loss, problem.params, problem.data, batch_size=48)
    ref = ravel_pytree(mv_full(v, act))[0]
    np.testing.assert_allclose(ravel_pytree(mv_b(v, act))[0], ref, rtol=1e-12, atol=1e-14)
    sizes = [64, 64, 64, 8]
    starts = np.cumsum([0, *sizes[:-1]])
    it = ((problem.x[s:s + m], problem.y[s:s + m]) for s, m in zip(starts, sizes, strict=True))
    batches = jh.Batches.from_iterable(it)
    assert (batches.num_full, batches.batch_size, batches.num_rest) == (3, 64, 8)
    mv_i, _ = jh.curvature_matvec(loss, problem.params, batches)
    np.testing.assert_allclose(ravel_pytree(mv_i(v, act))[0], ref, rtol=1e-12, atol=1e-14)


def test_block_restriction_is_the_diagonal_block(problem, dense_eigh):
    H = dense_eigh[0]
    wrt = [{"w": True, "b": False}, {"w": False, "b": False}, {"w": False, "b": False}]
    mv, act = jh.curvature_matvec(loss, problem.params, problem.data, wrt=wrt)
    block = np.asarray(jl.materialize(mv, act, act))
    # flat order: layer0 b (8..), layer0 w: ravel_pytree sorts dict keys -> b before w
    nb = problem.params[0]["b"].size
    nw = problem.params[0]["w"].size
    np.testing.assert_allclose(block, H[nb:nb + nw, nb:nb + nw], atol=1e-12)


def test_equinox_module_params():
    key = jax.random.key(3)
    mlp = eqx.nn.MLP(4, 3, 8, 2, activation=jnp.tanh, key=key)
    mlp = jax.tree.map(lambda a: a.astype(jnp.float64) if eqx.is_inexact_array(a) else a, mlp)
    x = jax.random.normal(jax.random.key(4), (32, 4))
    y = jax.random.randint(jax.random.key(5), (32,), 0, 3)

    def lossm(m, b):
        return cross_entropy(jax.vmap(m)(b[0]), b[1])

    res = jh.top_eigenpairs(lossm, mlp, (x, y), 2)
    arrays, static = eqx.partition(mlp, eqx.is_array)
    flat, un = ravel_pytree(arrays)
    H = jax.hessian(lambda w: lossm(eqx.combine(un(w), static), (x, y)))(flat)
    ev = np.linalg.eigvalsh(np.asarray(H))[::-1][:2]
    np.testing.assert_allclose(res.eigenvalues, ev, rtol=1e-10)
