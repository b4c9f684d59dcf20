"""Lanczos iteration on tree-vectors with full or no reorthogonalisation.

The kernel `krylov_extend` is shared by `lanczos`, the thick-restart `eigsh` and `slq`. It
keeps the *Arnoldi* coefficients `H[i, j] = <q_i, A q_j>` (i <= j) and `H[j+1, j] = beta_j`,
so that symmetry of the operator can be checked for free (`H` is symmetric for a symmetric
operator) and restarted (arrowhead) projected matrices need no special case.

Breakdown (an invariant subspace is found, beta_j ~ 0) is handled as ARPACK does: the next
basis vector is a random vector orthogonalised against the basis and the coupling is set to
zero. The projected matrix becomes block diagonal, every Ritz value stays genuine, and the
first block alone carries the quadrature weights of the start vector.
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jax import lax
from jaxtyping import Array, Bool, Float, Int

from .._core._dtypes import accumulation_dtype, eps
from .._core._flat import flatten_problem, should_flatten
from .._core._tree import (
    hash_like,
    stack_combine,
    stack_dot,
    stack_get,
    stack_set,
    stack_zeros,
    tree_all_finite,
    tree_axpy,
    tree_dot,
    tree_norm,
    tree_scale,
    tree_size,
    tree_zeros_like,
)
from ._operators import Matvec, check_operator

_DGKS = 0.7071067811865476  # 1/sqrt(2)


def _breakdown_tol(dtype) -> float:
    return 100.0 * eps(dtype)


def _normalise_or_random(w, norm, key, like, basis, coeff_dtype, scale):
    """Return (q, beta): w/norm, or on breakdown a random vector orthogonal to `basis`."""
    broke = norm <= _breakdown_tol(coeff_dtype) * scale

    def regular(_):
        return tree_scale((1.0 / norm).astype(coeff_dtype), w), norm, jnp.array(False)

    def restart(_):
        r = hash_like(like, key)
        if basis is not None:
            for _pass in range(2):
                r = tree_axpy(jnp.array(-1.0, coeff_dtype), stack_combine(stack_dot(basis, r,
                              coeff_dtype), basis), r)
        rn = tree_norm(r, coeff_dtype)
        # If the whole space is exhausted the orthogonalised vector is ~0: stop with zeros.
        ok = rn > eps(coeff_dtype) * 1e3 * jnp.sqrt(jnp.asarray(tree_size(like), coeff_dtype))
        inv = jnp.where(ok, 1.0 / jnp.where(ok, rn, 1.0), 0.0).astype(coeff_dtype)
        return tree_scale(inv, r), jnp.zeros((), coeff_dtype), jnp.array(True)

    return lax.cond(broke, restart, regular, None)


class KrylovState(eqx.Module):
    """Internal state of a (possibly restarted) Lanczos run with full reorthogonalisation."""

    basis: Any  # stacked tree-vector with m + 1 rows
    H: Float[Array, "_ _"]
    num_breakdowns: Int[Array, ""]
    nonfinite: Bool[Array, ""]
    scale: Float[Array, ""]  # running estimate of ||A|| (largest column norm of H)


def krylov_extend(
    matvec: Matvec, params: tuple, state: KrylovState, start: Any, stop: int, key: Any
) -> KrylovState:
    """Fill columns start..stop-1 of H; basis rows 0..start must be set, rows > start zero.

    `start` may be traced (restarted runs) or a Python int; `key` is a float seed.
    """
    coeff_dtype = state.H.dtype

    def step(st: KrylovState, j):
        q = stack_get(st.basis, j)
        w = matvec(q, *params)
        finite = tree_all_finite(w)
        w = jax.tree_util.tree_map(lambda a: jnp.where(finite, a, 0), w)
        # Local step first (modified Gram-Schmidt against q_{j-1} and q_j, the three-term
        # recurrence): it removes the large components of A q_j, so the full classical pass
        # below only cleans rounding-level ones and the DGKS test rarely asks for a second
        # pass (without it a second pass ran on nearly every step).
        prev = jnp.maximum(j - 1, 0)
        q_prev = stack_get(st.basis, prev)
        c_prev = tree_dot(q_prev, w, coeff_dtype)
        w = tree_axpy(-c_prev, q_prev, w)
        c_cur = tree_dot(q, w, coeff_dtype)
        w = tree_axpy(-c_cur, q, w)
        w_norm = tree_norm(w, coeff_dtype)
        h = stack_dot(st.basis, w, coeff_dtype)
        w = tree_axpy(jnp.array(-1.0, coeff_dtype), stack_combine(h, st.basis), w)
        h = h.at[prev].add(c_prev).at[j].add(c_cur)
        beta = tree_norm(w, coeff_dtype)

        # Second Gram-Schmidt pass only when the first cancelled much of w (the DGKS
        # criterion, as in ARPACK): otherwise w is already orthogonal to working accuracy.
        def second_pass(args):
            w, h = args
            h2 = stack_dot(st.basis, w, coeff_dtype)
            w = tree_axpy(jnp.array(-1.0, coeff_dtype), stack_combine(h2, st.basis), w)
            return w, h + h2, tree_norm(w, coeff_dtype)

        w, h, beta = lax.cond(beta < _DGKS * w_norm, second_pass,
                              lambda args: (*args, beta), (w, h))
        scale = jnp.maximum(st.scale, jnp.sqrt(jnp.sum(h**2) + beta**2))
        qn, beta, broke = _normalise_or_random(
            w, beta, key + 1.0 + j.astype(jnp.float32), q, st.basis, coeff_dtype, scale
        )
        H = st.H.at[:, j].set(h).at[j + 1, j].set(beta)
        return KrylovState(
            basis=stack_set(st.basis, j + 1, qn),
            H=H,
            num_breakdowns=st.num_breakdowns + broke.astype(jnp.int32),
            nonfinite=st.nonfinite | ~finite,
            scale=scale,
        ), None

    # Static bounds lower to a scan (reverse-differentiable); traced bounds to a while loop.
    return lax.fori_loop(start, stop, lambda j, st: step(st, j)[0], state)


def krylov_init(v0: Any, m: int, key) -> tuple[KrylovState, jnp.dtype]:
    """Basis buffer with q_0 = v0/||v0|| (a random vector if v0 == 0)."""
    leaves = jax.tree_util.tree_leaves(v0)
    coeff_dtype = accumulation_dtype(jnp.result_type(*leaves))
    nrm = tree_norm(v0, coeff_dtype)
    zero = nrm == 0
    v = jax.lax.cond(zero, lambda: hash_like(v0, _seed(key)), lambda: v0)
    nrm = tree_norm(v, coeff_dtype)
    q0 = tree_scale((1.0 / nrm).astype(coeff_dtype), v)
    basis = stack_set(stack_zeros(v0, m + 1), 0, q0)
    state = KrylovState(
        basis=basis,
        H=jnp.zeros((m + 1, m), coeff_dtype),
        num_breakdowns=jnp.array(0, jnp.int32),
        nonfinite=jnp.array(False),
        scale=jnp.zeros((), coeff_dtype),
    )
    return state, coeff_dtype


def projected_matrix(H: Array, m: int) -> tuple[Array, Array]:
    """Symmetric projected matrix (from the upper triangle of H) and the relative asymmetry."""
    Hm = H[:m, :m]
    upper = jnp.triu(Hm)
    T = upper + jnp.triu(Hm, 1).T
    asym = jnp.max(jnp.abs(jnp.tril(Hm, -1) - jnp.tril(T, -1)))
    scale = jnp.max(jnp.abs(Hm))
    return T, asym / jnp.where(scale > 0, scale, 1.0)


class LanczosDecomposition(eqx.Module):
    """`A Q = Q T + beta_m q_m e_m^T`, with `T = tridiag(betas[:-1], alphas, betas[:-1])`.

    Attributes:
        alphas: diagonal of T, shape (m,).
        betas: sub-diagonal; `betas[-1]` is the norm of the residual (the next, unnormalised
            Lanczos vector). A zero in `betas[:-1]` marks a breakdown that was restarted.
        basis: the Krylov basis as a stacked tree-vector (leading axis m), or None.
        residual: `beta_m q_m`, the part of `A q_{m-1}` outside the basis.
        num_breakdowns: how many invariant subspaces were found (and restarted from).
        asymmetry: relative asymmetry of the projected matrix (full reorthogonalisation only;
            a symmetric operator gives rounding level).
        nonfinite: True if the operator ever returned NaN/Inf.
    """

    alphas: Float[Array, " m"]
    betas: Float[Array, " m"]
    basis: Any
    residual: Any
    num_breakdowns: Int[Array, ""]
    asymmetry: Float[Array, ""]
    nonfinite: Bool[Array, ""]

    def tridiagonal(self) -> Float[Array, "m m"]:
        """The dense tridiagonal matrix T."""
        off = self.betas[:-1]
        return jnp.diag(self.alphas) + jnp.diag(off, 1) + jnp.diag(off, -1)


def _seed(key) -> jax.Array:
    """A float seed for `hash_like` from a PRNG key (or a float seed passed through)."""
    if jnp.issubdtype(jnp.result_type(key), jnp.floating):
        return key
    return jr.uniform(key, (), jnp.float32, 0.0, 1000.0)


def _lanczos_none(matvec, params, v0, m, key, return_basis):
    """Three-term recurrence, O(1) vectors of memory (plus the basis if requested)."""
    seed = _seed(key)
    coeff_dtype = accumulation_dtype(jnp.result_type(*jax.tree_util.tree_leaves(v0)))
    nrm = tree_norm(v0, coeff_dtype)
    v = lax.cond(nrm == 0, lambda: hash_like(v0, _seed(key)), lambda: v0)
    q0 = tree_scale((1.0 / tree_norm(v, coeff_dtype)).astype(coeff_dtype), v)

    def step(carry, j):
        q_prev, q, beta_prev, scale, nb, bad = carry
        w = matvec(q, *params)
        finite = tree_all_finite(w)
        w = jax.tree_util.tree_map(lambda a: jnp.where(finite, a, 0), w)
        alpha = tree_dot(q, w, coeff_dtype)
        w = tree_axpy(-alpha, q, w)
        w = tree_axpy(-beta_prev, q_prev, w)
        beta = tree_norm(w, coeff_dtype)
        scale = jnp.maximum(scale, jnp.sqrt(alpha**2 + beta**2 + beta_prev**2))
        qn, beta, broke = _normalise_or_random(
            w, beta, seed + 1.0 + j.astype(jnp.float32), q, None, coeff_dtype, scale
        )
        carry = (q, qn, beta, scale, nb + broke.astype(jnp.int32), bad | ~finite)
        return carry, (alpha, beta, q if return_basis else None)

    zero = jnp.zeros((), coeff_dtype)
    init = (tree_zeros_like(q0), q0, zero, zero, jnp.array(0, jnp.int32), jnp.array(False))
    (_, q_last, beta_last, _, nb, bad), (alphas, betas, basis) = lax.scan(
        step, init, jnp.arange(m)
    )
    return LanczosDecomposition(
        alphas=alphas,
        betas=betas,
        basis=basis,
        residual=tree_scale(beta_last, q_last),
        num_breakdowns=nb,
        asymmetry=jnp.zeros((), coeff_dtype),
        nonfinite=bad,
    )


def check_num_steps(num_steps: Any, n: int, name: str = "num_steps") -> int:
    if isinstance(num_steps, bool) or not isinstance(num_steps, int):
        raise TypeError(f"`{name}` must be a Python int, got {type(num_steps).__name__}.")
    if not 1 <= num_steps <= n:
        raise ValueError(
            f"`{name}` must be between 1 and the dimension of the vector space ({n}), "
            f"got {num_steps}."
        )
    return num_steps


@eqx.filter_jit
def _lanczos_jit(matvec, v0, params, num_steps, reortho, key, return_basis, flat=False):
    if key is None:
        key = jr.key(0)
    if flat:
        mv, x0, unravel = flatten_problem(matvec, v0)
        dec = _lanczos_jit(mv, x0, params, num_steps, reortho, key, return_basis)
        basis = None if dec.basis is None else jax.vmap(unravel)(dec.basis)
        return eqx.tree_at(lambda d: (d.basis, d.residual), dec, (basis, unravel(dec.residual)),
                           is_leaf=lambda x: x is None)
    if reortho == "none":
        return _lanczos_none(matvec, params, v0, num_steps, key, return_basis)
    state, _ = krylov_init(v0, num_steps, key)
    state = krylov_extend(matvec, params, state, 0, num_steps, _seed(key))
    H = state.H
    _, asym = projected_matrix(H, num_steps)
    alphas = jnp.diagonal(H[:num_steps, :num_steps])
    betas = jnp.diagonal(H[1:, :])  # H[j+1, j]
    basis = jax.tree_util.tree_map(lambda a: a[:num_steps], state.basis) if return_basis else None
    residual = tree_scale(betas[-1], stack_get(state.basis, num_steps))
    return LanczosDecomposition(
        alphas=alphas,
        betas=betas,
        basis=basis,
        residual=residual,
        num_breakdowns=state.num_breakdowns,
        asymmetry=asym,
        nonfinite=state.nonfinite,
    )


def lanczos(
    matvec: Matvec,
    v0: Any,
    num_steps: int,
    *params: Any,
    reortho: str = "full",
    return_basis: bool = True,
    key: Any = None,
) -> LanczosDecomposition:
    """Run `num_steps` Lanczos steps on the symmetric operator `matvec(v, *params)` from `v0`.

    Args:
        matvec: symmetric linear operator on tree-vectors shaped like `v0`.
        v0: start vector (any pytree of float arrays; zero is replaced by a random vector).
        num_steps: Krylov dimension m, 1 <= m <= dim.
        *params: operator parameters, passed to `matvec` explicitly.
        reortho: "full" (the default: the three-term step, then classical Gram-Schmidt
            against the whole basis, repeated when the DGKS test asks for it; accurate Ritz
            values, no ghosts, O(m n) memory) or "none" (three-term recurrence;
            O(n) memory when `return_basis=False`).
        return_basis: keep the basis in the result.
        key: PRNG key for restarts after breakdown (deterministic default).

    Returns:
        A `LanczosDecomposition`. Breakdown is restarted, never turned into NaNs; NaN/Inf from
        the operator sets `nonfinite` (the run continues on zeros).
    """
    if reortho not in ("full", "none"):
        raise ValueError(f"`reortho` must be 'full' or 'none', got {reortho!r}.")
    check_operator(matvec, v0, params)
    check_num_steps(num_steps, tree_size(v0))
    return _lanczos_jit(matvec, v0, params, num_steps, reortho, key, return_basis,
                        should_flatten(v0))
