"""jaxspec.hessian vs PyHessian and hessian-eigenthings (PyTorch), same model and data.

The model is the tour's MLP (16-56-48-10, tanh, 4,178 parameters) trained for 200 Adam steps
on a seeded 10-class Gaussian mixture (512 examples); the PyTorch twin gets identical weights.
Figures: HVP/gradient and GGN/gradient cost, Lanczos step / HVP, time and HVP count to the
top-5 eigenvalues at 1e-6, accuracy against the dense `jax.hessian` + `eigh`, density W1.

    python benchmarks/hessian.py [--rounds N]   # writes results/hessian.{json,md}
"""

from __future__ import annotations

import argparse
import importlib
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from _common import environment, md_table, restart_with_huge_pages, time_alternating, write

jax.config.update("jax_enable_x64", True)

import jaxspec.hessian as jh  # noqa: E402
import jaxspec.linalg as jl  # noqa: E402
from jaxspec.tour._hessian import init_mlp, loss_fn, mixture_data, mlp, train  # noqa: E402

try:
    import torch

    TORCH = torch.__version__
except ImportError:
    TORCH = None


def peers_available():
    out = {}
    for name in ["pyhessian", "hessian_eigenthings"]:
        try:
            importlib.import_module(name)
            out[name] = True
        except Exception as e:  # reported as not installable
            out[name] = f"not importable: {type(e).__name__}: {e}"
    return out


def setup(dtype):
    key = jax.random.key(0)
    data = mixture_data(key, 512)
    params = train(init_mlp(jax.random.fold_in(key, 1), [16, 56, 48, 10]), data, 200)
    params = jax.tree.map(lambda a: a.astype(dtype), params)
    data = (data[0].astype(dtype), data[1])
    return params, data


def torch_twin(params, data, dtype):
    layers = []
    for i, layer in enumerate(params):
        lin = torch.nn.Linear(*layer["w"].shape)
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(np.asarray(layer["w"]).T))
            lin.bias.copy_(torch.tensor(np.asarray(layer["b"])))
        layers.append(lin)
        if i < len(params) - 1:
            layers.append(torch.nn.Tanh())
    model = torch.nn.Sequential(*layers).to(dtype)
    x = torch.tensor(np.asarray(data[0]), dtype=dtype)
    y = torch.tensor(np.asarray(data[1]), dtype=torch.long)
    return model, x, y


def cost_ratios(params, data, rounds, label):
    grad = jax.jit(jax.grad(loss_fn))
    v = jax.tree.map(jnp.ones_like, params)
    hvp = jax.jit(lambda p, v: jh.hvp(loss_fn, p, data, v))

    def xent(out, y):
        logp = jax.nn.log_softmax(out, axis=-1)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=-1))

    ggn = jh.GGN(mlp, xent)
    ggnv = jax.jit(lambda p, v: ggn.mvp(p, data, v))
    fns = {"grad": lambda: grad(params, data), "hvp": lambda: hvp(params, v),
           "ggn": lambda: ggnv(params, v)}
    t = time_alternating(fns, rounds=rounds * 20)
    g = t["grad"]["median_s"]
    rows = [[f"jaxspec HVP / grad ({label})", t["hvp"]["median_s"] / g, g],
            [f"jaxspec GGN product / grad ({label})", t["ggn"]["median_s"] / g, g]]
    if TORCH:
        tdt = torch.float64 if label == "f64" else torch.float32
        model, x, y = torch_twin(params, data, tdt)
        crit = torch.nn.CrossEntropyLoss()
        ps = list(model.parameters())
        vs = [torch.ones_like(p) for p in ps]

        def tgrad():
            return torch.autograd.grad(crit(model(x), y), ps)

        def thvp():
            gs = torch.autograd.grad(crit(model(x), y), ps, create_graph=True)
            return torch.autograd.grad(gs, ps, grad_outputs=vs)

        for threads in (1, 2):
            torch.set_num_threads(threads)
            tt = time_alternating({"g": tgrad, "h": thvp}, rounds=rounds * 20)
            rows.append([f"PyTorch double-backward HVP / grad ({label}, {threads} thr)",
                         tt["h"]["median_s"] / tt["g"]["median_s"], tt["g"]["median_s"]])
    return rows


def lanczos_step(params, data, rounds):
    mv, act = jh.curvature_matvec(loss_fn, params, data)
    depth = 60
    lz = jax.jit(lambda a: jl.lanczos(mv, a, depth, a).alphas)

    def chain(a):
        def body(i, x):
            y = mv(x, a)
            n = jnp.sqrt(sum(jnp.vdot(t, t) for t in jax.tree.leaves(y)))
            return jax.tree.map(lambda t: t / n, y)

        return jax.lax.fori_loop(0, depth, body, a)

    ch = jax.jit(chain)
    # Each call is ~60 ms, so take many alternating rounds: the median is then stable to about
    # +-0.03 on a shared machine (5 rounds gave 1.04-1.11 for the same code).
    t = time_alternating({"lanczos": lambda: lz(act), "hvps": lambda: ch(act)},
                         rounds=max(rounds, 25))
    return t["lanczos"]["median_s"] / t["hvps"]["median_s"]


def top5(params, data, dense, rounds):
    ref = dense[::-1][:5]
    rows = []
    res = {}

    def run_j(verify):
        return jh.top_eigenpairs(loss_fn, params, data, 5, tol=1e-6, ncv=40, verify=verify)

    for verify in (True, False):
        t0 = time.perf_counter()
        r = run_j(verify)
        jax.block_until_ready(r.eigenvalues)
        first = time.perf_counter() - t0
        t = time_alternating({"j": lambda v=verify: run_j(v).eigenvalues}, rounds=rounds)["j"]
        err = float(np.max(np.abs(np.asarray(r.eigenvalues) - ref) / ref))
        name = f"jaxspec.top_eigenpairs (tol 1e-6{'' if verify else ', verify=False'})"
        rows.append([name, err, int(r.num_matvecs), t["median_s"], first])
        res[name] = t["median_s"]
    if not TORCH:
        return rows, res
    model, x, y = torch_twin(params, data, torch.float64)
    crit = torch.nn.CrossEntropyLoss()
    torch.set_num_threads(2)
    try:
        import pyhessian

        phm = importlib.import_module("pyhessian.hessian")
        orig = phm.hessian_vector_product
        count = [0]

        def counted(*a, **k):
            count[0] += 1
            return orig(*a, **k)

        phm.hessian_vector_product = counted
        for tol, it in ((1e-3, 100), (1e-6, 1000)):
            count[0] = 0
            t0 = time.perf_counter()
            H = pyhessian.hessian(model, crit, data=(x, y), cuda=False)
            vals, _ = H.eigenvalues(maxIter=it, tol=tol, top_n=5)
            dt = time.perf_counter() - t0
            err = float(np.max(np.abs(np.sort(vals)[::-1] - ref) / ref))
            name = f"PyHessian power iteration (tol {tol:g}, maxIter {it})"
            rows.append([name, err, count[0], dt, 0.0])
            res[name] = dt
        phm.hessian_vector_product = orig
    except Exception as e:
        rows.append([f"PyHessian failed: {type(e).__name__}: {e}", np.nan, 0, np.nan, 0.0])
    try:
        import hessian_eigenthings as he

        loss = he.supervised_loss(crit)
        op = he.HessianOperator(model, [(x, y)], loss)
        count = [0]
        orig_mv = op.matvec

        def mv(v):
            count[0] += 1
            return orig_mv(v)

        op.matvec = mv
        for name, fn in (("hessian-eigenthings lanczos (tol 1e-6, defaults)",
                          lambda: he.lanczos(op, k=5, tol=1e-6, which="LA", seed=0)),
                         ("hessian-eigenthings lanczos (tol 1e-6, max_iter 100)",
                          lambda: he.lanczos(op, k=5, tol=1e-6, which="LA", seed=0,
                                             max_iter=100)),
                         ("hessian-eigenthings deflated power iteration (defaults)",
                          lambda: he.deflated_power_iteration(op, k=5, seed=0))):
            count[0] = 0
            t0 = time.perf_counter()
            r = fn()
            dt = time.perf_counter() - t0
            vals = np.asarray(r.eigenvalues.detach().cpu().numpy() if hasattr(
                r.eigenvalues, "detach") else r.eigenvalues, dtype=np.float64)
            err = float(np.max(np.abs(np.sort(vals)[::-1][:5] - ref) / ref))
            rows.append([name, err, count[0], dt, 0.0])
            res[name] = dt
    except Exception as e:
        rows.append([f"hessian-eigenthings failed: {type(e).__name__}: {e}", np.nan, 0, np.nan,
                     0.0])
    return rows, res


def memory(params, data):
    """XLA's compiled memory (arguments + outputs + temporaries, MiB) of the gradient, one HVP
    and a whole top-5 run; PyTorch's CPU allocator exposes no peak figure, so no peer column."""
    mv, act = jh.curvature_matvec(loss_fn, params, data)

    def mib(fn, *args):
        m = jax.jit(fn).lower(*args).compile().memory_analysis()
        if m is None:
            return float("nan")
        total = m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes
        return total / 2**20

    return [
        ["gradient", mib(jax.grad(loss_fn), params, data)],
        ["HVP", mib(lambda p, v: jh.hvp(loss_fn, p, data, v), params, params)],
        ["top-5 eigsh run (ncv 40)", mib(lambda a: jl.eigsh(mv, a, 5, a, ncv=40).eigenvalues,
                                         act)],
    ]


def tracking(params, data, steps=10, lr=0.05):
    """Warm-started sharpness tracking over `steps` gradient steps vs dense eigh each step."""
    tracker = jh.SharpnessTracker(loss_fn, every=1, k=1, tol=1e-6)
    state = tracker.init()
    grad = jax.jit(jax.grad(loss_fn))
    _, un = ravel_pytree(params)
    dense_top = jax.jit(lambda w: jnp.linalg.eigvalsh(jax.hessian(
        lambda v: loss_fn(un(v), data))(w))[-1])
    errs, hvps = [], []
    for step in range(steps + 1):
        state, rec = tracker.update(state, step, params, data, lr=lr)
        ref = float(dense_top(ravel_pytree(params)[0]))
        errs.append(abs(float(rec.eigenvalues[0]) - ref) / ref)
        hvps.append(int(rec.num_matvecs))
        params = jax.tree.map(lambda a, g: a - lr * g, params, grad(params, data))
    return {"max_rel_error": max(errs), "hvps_cold": hvps[0],
            "hvps_warm_mean": float(np.mean(hvps[1:]))}


def density(params, data, dense):
    span = float(dense.max() - dense.min())
    out = []
    t0 = time.perf_counter()
    d = jh.spectral_density(loss_fn, params, data, key=jax.random.key(0), num_probes=10,
                            num_steps=80)
    jax.block_until_ready(d.nodes)
    x, w = d.atoms()
    out.append(["jaxspec SLQ interpolated CDF (f64)", float(d.wasserstein1(jnp.asarray(dense)))
                / span, time.perf_counter() - t0])
    out.append(["jaxspec SLQ quadrature atoms (f64)", float(jl.wasserstein1(
        x, w, jnp.asarray(dense), None)) / span, 0.0])
    if TORCH:
        try:
            import pyhessian

            model, xt, yt = torch_twin(params, data, torch.float64)
            t0 = time.perf_counter()
            H = pyhessian.hessian(model, torch.nn.CrossEntropyLoss(), data=(xt, yt), cuda=False)
            ev, wt = H.density(iter=80, n_v=10)
            dt = time.perf_counter() - t0
            ev = np.concatenate([np.asarray(e) for e in ev])
            wt = np.concatenate([np.asarray(w_) for w_ in wt])
            out.append(["PyHessian density (atoms, f64)", float(jl.wasserstein1(
                jnp.asarray(ev), jnp.asarray(wt), jnp.asarray(dense), None)) / span, dt])
        except Exception as e:
            msg = str(e).split(".")[0][:60]
            out.append([f"PyHessian density: fails ({type(e).__name__}: {msg})", np.nan, 0.0])
        try:
            import hessian_eigenthings as he

            model, xt, yt = torch_twin(params, data, torch.float64)
            op = he.HessianOperator(model, [(xt, yt)],
                                    he.supervised_loss(torch.nn.CrossEntropyLoss()))
            t0 = time.perf_counter()
            r = he.spectral_density(op, num_runs=10, lanczos_steps=80, seed=0)
            dt = time.perf_counter() - t0
            ev = r.raw_eigenvalues.detach().numpy().reshape(-1)
            wt = r.raw_weights.detach().numpy().reshape(-1)
            out.append(["hessian-eigenthings spectral_density (atoms, f64)", float(
                jl.wasserstein1(jnp.asarray(ev), jnp.asarray(wt), jnp.asarray(dense), None))
                / span, dt])
        except Exception as e:
            out.append([f"hessian-eigenthings density failed: {type(e).__name__}", np.nan, 0.0])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    payload = {"environment": environment(), "torch": TORCH, "peers": peers_available()}
    ratio_rows = []
    # The Lanczos-step ratio is timed first, before any PyTorch work: torch's idle OpenMP
    # threads keep spinning for a while and slowed every later JAX timing by 15-25 % here.
    params, data = setup(jnp.float64)
    step = lanczos_step(params, data, args.rounds)
    for dt, label in ((jnp.float32, "f32"), (jnp.float64, "f64")):
        p, d = setup(dt)
        ratio_rows += cost_ratios(p, d, args.rounds, label)
    params, data = setup(jnp.float64)
    flat, un = ravel_pytree(params)
    dense = np.linalg.eigvalsh(np.asarray(jax.jit(jax.hessian(
        lambda w: loss_fn(un(w), data)))(flat)))
    ratio_rows.append(["jaxspec Lanczos step (full reorth.) / HVP (f64)", step, np.nan])
    top_rows, top_t = top5(params, data, dense, args.rounds)
    base = top_t.get("jaxspec.top_eigenpairs (tol 1e-6)")
    for r in top_rows:
        r.append(r[3] / base if base and np.isfinite(r[3]) else np.nan)
    dens_rows = density(params, data, dense)
    track = tracking(params, data)
    mem_rows = memory(params, data)
    payload.update(ratios=ratio_rows, top5=top_rows, density=dens_rows, tracking=track,
                   memory_mib=mem_rows,
                   lambda_max=float(dense[-1]), num_params=int(flat.size))
    md = (
        f"MLP 16-56-48-10 ({flat.size} parameters), 512 examples, lambda_max = "
        f"{dense[-1]:.6g}; torch {TORCH}; peers {payload['peers']}.\n\n"
        + md_table(["figure", "ratio", "grad time s"], ratio_rows)
        + "\n\n"
        + md_table(["top-5 method", "max rel. error vs dense", "HVPs", "time s", "compile s",
                    "time / jaxspec"], top_rows)
        + "\n\n"
        + md_table(["density (10 probes x 80 steps)", "W1 / range", "time s"], dens_rows)
        + "\n\n"
        + md_table(["compiled XLA memory (f64)", "MiB"], mem_rows)
        + "\n\nWarm-started sharpness tracking over 10 gradient steps (lr 0.05, tol 1e-6): "
        f"max relative error of lambda_max vs dense eigh {track['max_rel_error']:.1e}; "
        f"{track['hvps_cold']} HVPs cold, {track['hvps_warm_mean']:.1f} per warm update."
    )
    write("hessian", payload, md)


if __name__ == "__main__":
    restart_with_huge_pages()  # before any large allocation; see jaxspec.jobs
    main()
