"""Thick-restart Lanczos (Wu & Simon 2000) for a few extreme eigenpairs.

Memory is bounded by the restart length `ncv` (ncv + 1 basis vectors). Each cycle: Ritz
pairs of the projected matrix; stop when every wanted pair's residual estimate is below
`tol * ||A||`; otherwise keep the `p` most wanted Ritz vectors plus the residual direction
and extend the basis back to `ncv` vectors.

A single start vector only sees one copy of a repeated eigenvalue. Once everything has
converged, a *verification cycle* locks the wanted Ritz vectors and extends the basis from a
random vector orthogonal to them: a missed copy of an eigenvalue (or any more extreme
eigenvalue the start vector was blind to) then enters the wanted set and is iterated to
convergence; only a converged set that survives a verification cycle is returned.

Reported eigenvalues are Rayleigh quotients of the returned eigenvectors evaluated with the
*live* operator, and residual norms are recomputed explicitly, so (i) `converged` never
trusts a recurrence estimate alone and (ii) eigenvalues are differentiable with respect to
the operator's parameters (and closed-over values) by the Hellmann-Feynman theorem. The
eigenvectors are returned with `stop_gradient`: their derivatives are not propagated.
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax import lax
from jaxtyping import Array, Bool, Float, Int

from .._core._dtypes import solve_dtype
from .._core._flat import flatten_problem, should_flatten
from .._core._results import RESULTS
from .._core._tree import (
    hash_like,
    stack_combine,
    stack_dot,
    stack_get,
    stack_set,
    stack_zeros,
    tree_axpy,
    tree_dot,
    tree_norm,
    tree_scale,
    tree_size,
)
from ._lanczos import KrylovState, _seed, krylov_extend, krylov_init, projected_matrix
from ._operators import Matvec, check_operator


class EigshResult(eqx.Module):
    """Eigenpairs from `eigsh`, sorted by ascending eigenvalue.

    Attributes:
        eigenvalues: shape (k,), Rayleigh quotients of the eigenvectors.
        eigenvectors: stacked tree-vector (leading axis k), unit norm.
        residual_norms: ||A v - lambda v||, recomputed explicitly, shape (k,).
        converged: per pair, residual_norm <= tol * ||A||_est.
        num_matvecs: operator applications used (including the k final ones).
        num_restarts: thick restarts performed.
        result: a `RESULTS` status (successful / max_matvecs_reached / nonfinite /
            not_symmetric).
        asymmetry: relative asymmetry of the projected matrix (rounding level when
            symmetric).
        norm_estimate: the ||A|| estimate the tolerance is relative to.
    """

    eigenvalues: Float[Array, " k"]
    eigenvectors: Any
    residual_norms: Float[Array, " k"]
    converged: Bool[Array, " k"]
    num_matvecs: Int[Array, ""]
    num_restarts: Int[Array, ""]
    result: RESULTS
    asymmetry: Float[Array, ""]
    norm_estimate: Float[Array, ""]


def _priority(theta: Array, which: str) -> Array:
    """Indices of the Ritz values (sorted ascending) from most to least wanted."""
    m = theta.shape[0]
    if which == "largest":
        return jnp.arange(m - 1, -1, -1)
    if which == "smallest":
        return jnp.arange(m)
    # both: alternate from the two ends, the larger end first.
    idx = np.empty(m, dtype=np.int32)
    idx[0::2] = np.arange(m - 1, m - 1 - len(idx[0::2]), -1)
    idx[1::2] = np.arange(len(idx[1::2]))
    return jnp.asarray(idx)


class _Loop(eqx.Module):
    kry: KrylovState
    num_matvecs: Int[Array, ""]
    num_restarts: Int[Array, ""]
    done: Bool[Array, ""]
    injected: Bool[Array, ""]
    locked_theta: Float[Array, " k"]
    asymmetric: Bool[Array, ""]


def _default_tol(dtype) -> float:
    return 1e-10 if np.dtype(dtype).itemsize >= 8 else 1e-5


def _default_symmetry_tol(dtype) -> float:
    return 1e-8 if np.dtype(dtype).itemsize >= 8 else 1e-2


@eqx.filter_jit
def _eigsh_jit(matvec, v0, params, k, which, tol, ncv, max_matvecs, verify, symmetry_tol, key,
               throw, flat=False):
    if flat:
        mv, x0, unravel = flatten_problem(matvec, v0)
        res = _eigsh_jit(mv, x0, params, k, which, tol, ncv, max_matvecs, verify,
                         symmetry_tol, key, throw)
        return eqx.tree_at(lambda r: r.eigenvectors, res, jax.vmap(unravel)(res.eigenvectors))
    m = ncv
    n = tree_size(v0)
    p = min(k + (m - k) // 2, m - 1)
    sdt = solve_dtype()
    # Hoist closed-over tracers so the loop can run without tangents (gradients flow through
    # the final Rayleigh quotients instead).
    mv_conv, consts = jax.closure_convert(lambda v, *a: matvec(v, *a), v0, *params)
    frozen = lax.stop_gradient((v0, params, consts))
    v0_sg, params_sg, consts_sg = frozen

    def op(v, *_):
        return mv_conv(v, *params_sg, *consts_sg)

    verify = verify and n > m  # the whole space in the basis: nothing can be missed
    order = _priority(jnp.zeros(m), which)
    wanted = order[:k]
    keep = order[:p]

    def ritz(kry, locked_theta):
        T, asym = projected_matrix(kry.H, m)
        theta, S = jnp.linalg.eigh(T.astype(sdt))
        beta = kry.H[m, m - 1].astype(sdt)
        res = jnp.abs(beta * S[m - 1, :])
        scale = jnp.maximum(jnp.max(jnp.abs(theta)), kry.scale.astype(sdt))
        conv = res[wanted] <= tol * scale
        # the next most wanted pair: must also converge after a random injection, so that
        # a missed eigenvalue (hidden from the start vector) would have shown up
        conv_next = res[order[k]] <= np.sqrt(tol) * scale if p > k else jnp.array(True)
        changed = jnp.max(jnp.abs(theta[wanted] - locked_theta)) > 10 * tol * scale
        return theta, S, beta, asym, jnp.all(conv), conv_next, changed

    def restart(kry, theta, S, beta, lock, rkey):
        """New basis: kept Ritz vectors, then the residual direction (or, when `lock`, a
        random vector orthogonal to the k wanted Ritz vectors)."""
        coeff = kry.H.dtype
        cols = jnp.where(lock, jnp.concatenate([wanted, keep[k:]]), keep)
        Y = S[:, cols].astype(coeff)  # (m, p)
        # In lock mode only the first k (converged) vectors are kept.
        nkeep = jnp.where(lock, k, p)
        mask = (jnp.arange(p) < nkeep).astype(coeff)
        rows = jax.tree_util.tree_map(lambda a: a[:m], kry.basis)
        kept = stack_combine(Y.T * mask[:, None], rows)  # (p, ...)
        basis = stack_zeros(v0_sg, m + 1)
        basis = jax.tree_util.tree_map(lambda b, c: b.at[:p].set(c), basis, kept)
        resid = stack_get(kry.basis, m)
        rnd = hash_like(v0_sg, rkey)
        for _ in range(2):
            rnd = tree_axpy(jnp.array(-1.0, coeff), stack_combine(stack_dot(basis, rnd, coeff),
                            basis), rnd)
        rnd = tree_scale((1.0 / tree_norm(rnd, coeff)).astype(coeff), rnd)
        nxt = jax.tree_util.tree_map(lambda a, b: jnp.where(lock, a, b), rnd, resid)
        # The caller places `nxt` in slot p (normal restart) or slot k (lock) and extends
        # from there.
        H = jnp.zeros_like(kry.H)
        th = theta[cols].astype(coeff) * mask
        H = H.at[jnp.arange(p), jnp.arange(p)].set(th)
        coupling = jnp.where(lock, 0.0, (beta * S[m - 1, cols]).astype(coeff) * mask)
        return basis, H, nxt, coupling

    def body(lp: _Loop) -> _Loop:
        theta, S, beta, asym, all_conv, conv_next, changed = ritz(lp.kry, lp.locked_theta)
        started = lp.num_matvecs > 0
        asymmetric = lp.asymmetric | (started & (asym > symmetry_tol))
        # Converged and verified: the last random injection changed nothing and the pair
        # after the wanted ones has converged too.
        verified = lp.injected & conv_next & ~changed
        finished = started & (
            (all_conv & (verified | (not verify))) | asymmetric | lp.kry.nonfinite
        )
        lock = started & ~finished & all_conv & verify & (~lp.injected | conv_next)
        rkey = seed + 7.0 * (lp.num_restarts + 1).astype(jnp.float32)

        def prepare(_):
            basis, H, nxt, coupling = restart(lp.kry, theta, S, beta, lock, rkey)
            start = jnp.where(lock, k, p)
            # lock: only the k converged vectors stay, the random vector goes to slot k.
            keep_rows = jnp.arange(m + 1) < start
            basis = jax.tree_util.tree_map(
                lambda a: a * keep_rows.reshape((-1,) + (1,) * (a.ndim - 1)).astype(a.dtype),
                basis,
            )
            basis = stack_set(basis, start, nxt)
            H = jnp.where(lock, H, H.at[p, :p].set(coupling))
            return KrylovState(basis, H, lp.kry.num_breakdowns, lp.kry.nonfinite,
                               lp.kry.scale), start

        def advance(_):
            kr, start = lax.cond(started, prepare, lambda _: (lp.kry, jnp.array(0)), None)
            return krylov_extend(op, (), kr, start, m, rkey + 0.5), start

        kry, start = lax.cond(finished, lambda _: (lp.kry, jnp.array(m)), advance, None)
        cost = jnp.where(finished, 0, m - start)
        return _Loop(
            kry=kry,
            num_matvecs=lp.num_matvecs + cost,
            num_restarts=lp.num_restarts + (started & ~finished).astype(jnp.int32),
            done=finished,
            injected=lp.injected | lock,
            locked_theta=jnp.where(lock, theta[wanted], lp.locked_theta),
            asymmetric=asymmetric,
        )

    def cond(lp: _Loop):
        return ~lp.done & (lp.num_matvecs < max_matvecs)

    seed = _seed(key)
    kry, _ = krylov_init(v0_sg, m, seed)
    lp = _Loop(
        kry=kry,
        num_matvecs=jnp.array(0, jnp.int32),
        num_restarts=jnp.array(0, jnp.int32),
        done=jnp.array(False),
        injected=jnp.array(False),
        locked_theta=jnp.full((k,), jnp.inf, sdt),
        asymmetric=jnp.array(False),
    )
    lp = lax.while_loop(cond, body, lp)

    # Final Ritz pairs from the last basis.
    T, asym = projected_matrix(lp.kry.H, m)
    theta, S = jnp.linalg.eigh(T.astype(sdt))
    coeff = lp.kry.H.dtype
    rows = jax.tree_util.tree_map(lambda a: a[:m], lp.kry.basis)
    vecs = stack_combine(S[:, wanted].T.astype(coeff), rows)
    vecs = lax.stop_gradient(vecs)

    # Rayleigh quotients and explicit residuals with the live operator (differentiable).
    def rq(v):
        av = matvec(v, *params)
        lam = tree_dot(v, av, coeff) / tree_dot(v, v, coeff)
        r = tree_norm(tree_axpy(-lax.stop_gradient(lam), v, av), coeff)
        return lam, r

    lams, res = lax.map(rq, vecs)
    srt = jnp.argsort(lax.stop_gradient(lams))
    lams, res = lams[srt], res[srt]
    vecs = jax.tree_util.tree_map(lambda a: a[srt], vecs)
    scale = jnp.maximum(jnp.max(jnp.abs(theta)), lp.kry.scale.astype(sdt)).astype(coeff)
    converged = lax.stop_gradient(res) <= tol * scale
    asymmetric = lp.asymmetric | (asym > symmetry_tol)
    result = RESULTS.where(jnp.all(converged), RESULTS.successful, RESULTS.max_matvecs_reached)
    result = RESULTS.where(asymmetric, RESULTS.not_symmetric, result)
    result = RESULTS.where(lp.kry.nonfinite | ~jnp.all(jnp.isfinite(lams)),
                           RESULTS.nonfinite, result)
    if throw:
        lams = result.error_if(lams, result != RESULTS.successful)
    return EigshResult(
        eigenvalues=lams,
        eigenvectors=vecs,
        residual_norms=lax.stop_gradient(res),
        converged=converged,
        num_matvecs=lp.num_matvecs + k,
        num_restarts=lp.num_restarts,
        result=result,
        asymmetry=jnp.maximum(asym, jnp.where(lp.asymmetric, jnp.inf, 0.0)).astype(coeff),
        norm_estimate=scale,
    )


def eigsh(
    matvec: Matvec,
    v0: Any,
    k: int,
    *params: Any,
    which: str = "largest",
    tol: float | None = None,
    ncv: int | None = None,
    max_matvecs: int | None = None,
    verify: bool = True,
    symmetry_tol: float | None = None,
    key: Any = None,
    throw: bool = True,
) -> EigshResult:
    """A few extreme eigenpairs of a symmetric operator by thick-restart Lanczos.

    Args:
        matvec: symmetric linear operator `matvec(v, *params)` on tree-vectors like `v0`.
        v0: start vector: any pytree of float arrays (e.g. model parameters).
        k: number of eigenpairs, 1 <= k < dim.
        *params: operator parameters (eigenvalues are differentiable with respect to them).
        which: "largest" or "smallest" (algebraic), or "both" (ceil(k/2) largest and
            floor(k/2) smallest).
        tol: residual tolerance relative to the ||A|| estimate; default 1e-10 (float64
            vectors) or 1e-5 (float32). The eigenvalue error is at most
            `residual_norms` and typically `residual_norms**2 / gap`.
        ncv: restart length (basis size), k < ncv <= dim; default max(2k+1, 20) capped at dim.
        max_matvecs: budget of operator applications (the last cycle may overrun it by at
            most ncv); default 50 * ncv.
        verify: after convergence, run one cycle from a random vector orthogonal to the
            converged vectors, so repeated eigenvalues are not missed (costs ncv - k
            matvecs).
        symmetry_tol: relative asymmetry of the projected matrix above which the operator is
            declared non-symmetric; default 1e-8 (float64) or 1e-2 (float32).
        key: PRNG key for random restart vectors (deterministic default).
        throw: raise at run time if not every pair converged (or the operator was non-finite
            or non-symmetric); with `throw=False` inspect `result` and `converged`.
    """
    dtype = check_operator(matvec, v0, params)
    n = tree_size(v0)
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"`k` must be a Python int, got {type(k).__name__}.")
    if not 1 <= k < n:
        raise ValueError(f"`k` must satisfy 1 <= k < dim = {n}, got k={k}.")
    if which not in ("largest", "smallest", "both"):
        raise ValueError(f"`which` must be 'largest', 'smallest' or 'both', got {which!r}.")
    if ncv is None:
        ncv = min(n, max(2 * k + 1, 20))
    if not k < ncv <= n:
        raise ValueError(f"`ncv` must satisfy k < ncv <= dim ({k} < ncv <= {n}), got {ncv}.")
    if tol is None:
        tol = _default_tol(dtype)
    if not tol > 0:
        raise ValueError(f"`tol` must be positive, got {tol}.")
    if max_matvecs is None:
        max_matvecs = 50 * ncv
    if max_matvecs < ncv:
        raise ValueError(f"`max_matvecs` must be >= ncv ({ncv}), got {max_matvecs}.")
    if symmetry_tol is None:
        symmetry_tol = _default_symmetry_tol(dtype)
    if key is None:
        key = jr.key(0)
    return _eigsh_jit(matvec, v0, params, k, which, float(tol), ncv, int(max_matvecs),
                      bool(verify), float(symmetry_tol), key, bool(throw), should_flatten(v0))
