import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxspec.linalg as jl
from tests.helpers import SPECTRA, planted


@pytest.mark.parametrize("reortho", ["full", "none"])
@pytest.mark.parametrize("spectrum", sorted(SPECTRA))
def test_lanczos_relation_and_orthonormality(spectrum, reortho, rng):
    n, m = 120, 30  # partial depth
    ev = SPECTRA[spectrum](n, rng)
    A = planted(ev, seed=1)
    v0 = jnp.asarray(rng.standard_normal(n))
    d = jl.lanczos(jl.MatrixOperator(A), v0, m, reortho=reortho)
    Q = np.asarray(d.basis)  # (m, n)
    T = np.asarray(d.tridiagonal())
    e_m = np.eye(m)[-1]
    relation = np.asarray(A) @ Q.T - Q.T @ T - np.outer(np.asarray(d.residual), e_m)
    assert np.abs(relation).max() <= 1e-10 * np.abs(ev).max()
    if reortho == "full":
        assert np.abs(Q @ Q.T - np.eye(m)).max() <= 1e-13
        assert float(d.asymmetry) <= 1e-13
    # the first basis vector is the normalised start vector
    np.testing.assert_allclose(Q[0], np.asarray(v0) / np.linalg.norm(v0), atol=1e-14)


def test_breakdown_is_restarted_not_nan(rng):
    # three distinct eigenvalues: the Krylov space is invariant after 3 steps
    ev = np.repeat([1.0, 2.0, 5.0], [20, 20, 40])
    A = planted(ev, seed=2)
    d = jl.lanczos(jl.MatrixOperator(A), jnp.asarray(rng.standard_normal(80)), 9)
    assert int(d.num_breakdowns) == 3  # after steps 3, 6 and 9
    assert np.all(np.isfinite(np.asarray(d.alphas)))
    betas = np.asarray(d.betas)
    assert betas[2] == 0 and betas[5] == 0
    ritz = np.linalg.eigvalsh(np.asarray(d.tridiagonal()))
    np.testing.assert_allclose(np.sort(ritz), np.repeat([1.0, 2.0, 5.0], 3), atol=1e-12)
    Q = np.asarray(d.basis)
    assert np.abs(Q @ Q.T - np.eye(9)).max() < 1e-12


def test_pytree_vectors_match_flat(rng):
    n = 60
    A = planted(SPECTRA["indefinite"](n, rng), seed=3)
    shapes = {"w": (5, 6), "b": (30,)}

    def unflat(x):
        return {"w": x[:30].reshape(5, 6), "b": x[30:]}

    def flat(t):
        return jnp.concatenate([t["w"].reshape(-1), t["b"]])

    def mv_tree(t):
        return unflat(A @ flat(t))

    x0 = jnp.asarray(rng.standard_normal(n))
    d_flat = jl.lanczos(jl.MatrixOperator(A), x0, 20)
    d_tree = jl.lanczos(mv_tree, unflat(x0), 20)
    np.testing.assert_allclose(d_tree.alphas, d_flat.alphas, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(d_tree.betas, d_flat.betas, rtol=1e-12, atol=1e-12)
    assert jax.tree.map(lambda a: a.shape[1:], d_tree.basis) == shapes


def test_zero_start_vector_and_nonfinite(rng):
    A = planted(np.linspace(1, 2, 20), seed=4)
    d = jl.lanczos(jl.MatrixOperator(A), jnp.zeros(20), 5)
    assert np.all(np.isfinite(np.asarray(d.alphas)))
    assert not bool(d.nonfinite)

    def bad(v):
        return A @ v + jnp.nan

    assert bool(jl.lanczos(bad, jnp.ones(20), 5).nonfinite)


def test_bad_input_messages():
    A = jnp.eye(4)
    with pytest.raises(ValueError, match="num_steps"):
        jl.lanczos(jl.MatrixOperator(A), jnp.ones(4), 5)
    with pytest.raises(TypeError, match="v0"):
        jl.lanczos(jl.MatrixOperator(A), jnp.ones(4, dtype=jnp.int32), 2)
    with pytest.raises(ValueError, match="square"):
        jl.lanczos(lambda v: jnp.ones(3), jnp.ones(4), 2)
    with pytest.raises(ValueError, match="structure"):
        jl.lanczos(lambda v: {"a": v}, jnp.ones(4), 2)
    with pytest.raises(ValueError, match="matrix"):
        jl.MatrixOperator(jnp.ones((3, 4)))
    with pytest.raises(ValueError, match="reortho"):
        jl.lanczos(jl.MatrixOperator(A), jnp.ones(4), 2, reortho="partial")


def test_float32(rng):
    A = planted(np.linspace(-1, 3, 50), seed=5, dtype=jnp.float32)
    d = jl.lanczos(jl.MatrixOperator(A), jnp.ones(50, jnp.float32), 15)
    assert d.alphas.dtype == jnp.float32
    Q = np.asarray(d.basis, dtype=np.float64)
    assert np.abs(Q @ Q.T - np.eye(15)).max() < 1e-5
