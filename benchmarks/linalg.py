"""jaxspec.linalg vs matfree (JAX) and scipy ARPACK on the same operators.

Figures: top-k relative eigenvalue error vs dense `eigh` (or the analytic spectrum), matvecs
used, wall time (median of alternating rounds, compile reported separately), and the cost of
one full-reorthogonalisation Lanczos step relative to one matvec.

    python benchmarks/linalg.py            # writes benchmarks/results/linalg.{json,md}
"""

from __future__ import annotations

import argparse
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse.linalg as spla

from _common import environment, md_table, restart_with_huge_pages, time_alternating, write

jax.config.update("jax_enable_x64", True)

import jaxspec.linalg as jl  # noqa: E402

try:
    import matfree
    from matfree import decomp, eig

    MATFREE = getattr(matfree, "__version__", "installed")
except ImportError:  # reported, not fatal
    MATFREE = None


def planted(n, seed):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    ev = np.concatenate([[50.0, 49.5, 49.0, 30.0, 30.0, 29.9], rng.standard_normal(n - 6)])
    a = (q * ev) @ q.T
    return jnp.asarray(0.5 * (a + a.T)), np.sort(ev)


def laplacian(nx):
    h = 1.0 / (nx + 1)

    def mv(u):
        u = u.reshape(nx, nx)
        p = jnp.pad(u, 1)
        return ((4 * u - p[:-2, 1:-1] - p[2:, 1:-1] - p[1:-1, :-2] - p[1:-1, 2:]) / h**2).ravel()

    s = np.sin(np.arange(1, nx + 1) * np.pi * h / 2) ** 2
    return mv, np.sort((4 / h**2 * (s[:, None] + s[None, :])).ravel())


def case(name, mv, exact, n, k, which, rounds):
    ref = exact[-k:] if which == "largest" else exact[:k]
    v0 = jnp.asarray(np.random.default_rng(0).standard_normal(n))
    mv_j = eqx.filter_jit(mv)
    ncv = 40

    t0 = time.perf_counter()
    res = jl.eigsh(mv_j, v0, k, which=which, ncv=ncv, max_matvecs=100_000)
    jax.block_until_ready(res.eigenvalues)
    first_call = time.perf_counter() - t0  # includes compilation
    used = int(res.num_matvecs)
    rows, payload = [], {}

    def err(vals):
        return float(np.max(np.abs(np.sort(np.asarray(vals)) - ref) / np.abs(ref)))

    fns = {"jaxspec.eigsh": lambda: jl.eigsh(mv_j, v0, k, which=which, ncv=ncv,
                                             max_matvecs=100_000).eigenvalues}
    errs = {"jaxspec.eigsh": err(res.eigenvalues)}
    mvs = {"jaxspec.eigsh": used}

    # scipy ARPACK on the same (jitted) operator, counting matvecs
    count = [0]

    def mv_np(x):
        count[0] += 1
        return np.asarray(mv_j(jnp.asarray(x)))

    op = spla.LinearOperator((n, n), matvec=mv_np, dtype=np.float64)
    sw = "LA" if which == "largest" else "SA"

    def arpack():
        count[0] = 0
        return spla.eigsh(op, k=k, which=sw, v0=np.asarray(v0), ncv=ncv, tol=1e-10,
                          maxiter=100_000, return_eigenvectors=False)

    vals = arpack()
    errs["scipy.eigsh (ARPACK)"] = err(vals)
    mvs["scipy.eigsh (ARPACK)"] = count[0]
    fns["scipy.eigsh (ARPACK)"] = arpack

    if MATFREE is not None:
        # matfree has no restarted solver: one Lanczos run with the same matvec budget
        depth = min(used, n, 1000)  # full reorthogonalisation is O(depth^2 n): capped
        tri = decomp.tridiag_sym(depth, reortho="full")
        eigh_p = jax.jit(lambda v: eig.eigh_partial(tri)(mv_j, v)[0])
        vals = eigh_p(v0)
        sel = np.sort(np.asarray(vals))
        sel = sel[-k:] if which == "largest" else sel[:k]
        errs[f"matfree eigh_partial ({depth} steps)"] = err(sel)
        mvs[f"matfree eigh_partial ({depth} steps)"] = depth
        fns[f"matfree eigh_partial ({depth} steps)"] = lambda: eigh_p(v0)

    timing = time_alternating(fns, rounds=rounds)
    timing["jaxspec.eigsh"]["compile_s"] = first_call
    base = timing["jaxspec.eigsh"]["median_s"]
    for key in fns:
        t = timing[key]
        rows.append([name, key, errs[key], mvs[key], t["median_s"], t["median_s"] / base,
                     t["compile_s"]])
        payload[key] = {"max_rel_error": errs[key], "matvecs": mvs[key], **t}
    return rows, payload


def lanczos_step_cost(n, depth, rounds):
    """Time per full-reorthogonalisation Lanczos step / time per matvec (dense n x n)."""
    A, _ = planted(n, 1)
    op = jl.MatrixOperator(A)
    mv = eqx.filter_jit(op)
    v0 = jnp.ones(n)
    lz = jax.jit(lambda v: jl.lanczos(op, v, depth).alphas)
    chain = jax.jit(lambda v: jax.lax.fori_loop(
        0, depth, lambda i, x: mv(x) / jnp.linalg.norm(x), v))  # depth matvecs, no basis
    fns = {"matvec x depth": lambda: chain(v0),
           "jaxspec.lanczos": lambda: lz(v0)}
    if MATFREE is not None:
        tri = decomp.tridiag_sym(depth, reortho="full")
        mf = jax.jit(lambda v: tri(op, v)[1])
        fns["matfree.tridiag_sym"] = lambda: mf(v0)
    t = time_alternating(fns, rounds=rounds)
    mvt = t["matvec x depth"]["median_s"]
    rows = [["lanczos step / matvec", k, t[k]["median_s"] / mvt, depth, t[k]["median_s"]]
            for k in fns if k != "matvec x depth"]
    return rows, t


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n_dense = 600 if args.quick else 2000
    nx = 60 if args.quick else 100
    rows, payload = [], {"environment": environment(), "matfree": MATFREE,
                         "scipy": __import__("scipy").__version__}
    A, ev = planted(n_dense, 0)
    for which in ["largest"]:
        r, p = case(f"dense planted n={n_dense}", jl.MatrixOperator(A), ev, n_dense, 5, which,
                    args.rounds)
        rows += r
        payload[f"dense_{which}"] = p
    mv, ex = laplacian(nx)
    for which in ["largest", "smallest"]:
        r, p = case(f"2D Laplacian n={nx * nx} ({which})", mv, ex, nx * nx, 5, which,
                    args.rounds)
        rows += r
        payload[f"laplacian_{which}"] = p
    step_rows, step_t = lanczos_step_cost(n_dense, 60, args.rounds)
    payload["lanczos_step"] = step_t
    t1 = md_table(["problem", "method", "max rel. error (top-5)", "matvecs", "median s",
                   "time / jaxspec", "compile s"], rows)
    t2 = md_table(["figure", "method", "ratio", "depth", "median s"], step_rows)
    note = ("" if MATFREE else "\n\nmatfree could not be imported: not measured.\n")
    write("linalg", payload, t1 + "\n\n" + t2 + note)


if __name__ == "__main__":
    restart_with_huge_pages()  # before any large allocation; see jaxspec.jobs
    t0 = time.time()
    main()
    print(f"total {time.time() - t0:.1f} s")
