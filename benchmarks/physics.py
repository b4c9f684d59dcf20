"""jaxspec.physics: accuracy and speed vs exponax, and the FNO dataset generation costs.

1. Burgers (FNO setting: GRF data, nu = 0.1, t = 1) and Kuramoto-Sivashinsky: error vs an
   exact / independent reference and time per rollout for jaxspec and exponax (ETDRK4, the
   same dt values), alternating rounds; the ratio at equal accuracy.
2. Reverse-mode memory of a differentiated rollout (compiled XLA temp size) vs step count.
3. Wall time and peak memory to generate the FNO Burgers set (1,000 + 200 samples, s = 1024)
   and the Darcy s = 85 set (1,200 samples solved at 421 and subsampled), and the cost per
   sample of the Navier-Stokes nu = 1e-3 set (s = 64, T = 50).

    python benchmarks/physics.py [--quick]   # writes benchmarks/results/physics.{json,md}
"""

from __future__ import annotations

import argparse
import math
import resource
import tempfile
import time

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from scipy.integrate import solve_ivp

from _common import environment, md_table, restart_with_huge_pages, time_alternating, write

jax.config.update("jax_enable_x64", True)

from jaxspec._core._spectral import dealias_mask  # noqa: E402
from jaxspec.physics import (  # noqa: E402
    GaussianRandomField,
    burgers,
    burgers_exact,
    datasets,
    kuramoto_sivashinsky,
)

try:
    import exponax as ex

    EXPONAX = ex.__version__
except ImportError:  # reported, not fatal
    ex, EXPONAX = None, None


def _dealiased_grf(n, key):
    u0 = GaussianRandomField(n, alpha=2.5, tau=7.0, sigma=49.0)(key)
    return jnp.fft.irfft(jnp.fft.rfft(u0) * jnp.asarray(dealias_mask((n,)), jnp.complex128), n=n)


def _rel(a, b):
    return float(np.linalg.norm(np.asarray(a) - b) / np.linalg.norm(b))


def _exponax_rollout(stepper, steps):
    return jax.jit(lambda u: jax.lax.fori_loop(0, steps, lambda i, v: stepper(v), u[None])[0])


TOOLS = ("jaxspec", "jaxspec_plain", "exponax")


def accuracy_vs_speed(name, n, dts, t_final, ours, theirs, reference, rounds, batch):
    """Error and batched rollout time for each dt and tool; returns rows and raw figures.

    `jaxspec_plain` is jaxspec with `start_refine=1` (no refined start: the same step count
    as exponax)."""
    rows, raw = [], []
    keys = jr.split(jr.key(7), batch)
    for dt in dts:
        if name == "burgers":
            u0s = jax.vmap(lambda k: _dealiased_grf(n, k))(keys)
        else:
            u0s = jnp.stack([reference["u0"]] * batch)
        fs = {"jaxspec": jax.jit(jax.vmap(lambda u, dt=dt: ours(u, dt, 10))),
              "jaxspec_plain": jax.jit(jax.vmap(lambda u, dt=dt: ours(u, dt, 1)))}
        if ex is not None:
            fs["exponax"] = jax.jit(jax.vmap(theirs(dt)))
        fns = {k: (lambda f=f, u=u0s: f(u)) for k, f in fs.items()}
        t = time_alternating(fns, rounds=rounds)
        r = {"dt": dt, "steps": math.ceil(t_final / dt - 1e-9)}
        for tool in TOOLS:
            if tool in fns:
                r[f"{tool}_err"] = _rel(fns[tool]()[0], reference["exact"])
                r[f"{tool}_s"] = t[tool]["median_s"]
                r[f"{tool}_compile_s"] = t[tool]["compile_s"]
            else:
                r[f"{tool}_err"] = r[f"{tool}_s"] = None
        raw.append(r)

        def cell(v):
            return v if v is not None else "not installed"

        rows.append([name, n, dt, r["jaxspec_err"], r["jaxspec_plain_err"],
                     cell(r["exponax_err"]), r["jaxspec_s"], r["jaxspec_plain_s"],
                     cell(r["exponax_s"]),
                     (r["exponax_s"] / r["jaxspec_plain_s"]) if r["exponax_s"] else "-"])
    return rows, raw


def equal_accuracy(raw, target):
    """Time each tool needs for its fastest dt meeting `target` (None if none does)."""
    best = {}
    for tool in TOOLS:
        ok = [r for r in raw if r[f"{tool}_err"] is not None and r[f"{tool}_err"] <= target]
        best[tool] = min((r[f"{tool}_s"] for r in ok), default=None)
    return best


def ks_reference(n, length, t):
    x = np.arange(n) * length / n
    u0 = np.cos(2 * np.pi * x / length) * (1 + np.sin(4 * np.pi * x / length))
    k = 2 * np.pi / length * np.fft.rfftfreq(n, 1.0 / n)
    mask = dealias_mask((n,))
    lin = k**2 - k**4

    def rhs(_, y):
        v = y[: k.size] + 1j * y[k.size:]
        u = np.fft.irfft(v, n)
        dv = lin * v - 0.5j * k * mask * np.fft.rfft(u * u)
        return np.concatenate([dv.real, dv.imag])

    v0 = np.fft.rfft(u0) * mask
    sol = solve_ivp(rhs, (0, t), np.concatenate([v0.real, v0.imag]), method="DOP853",
                    rtol=1e-13, atol=1e-13)
    y = sol.y[:, -1]
    exact = np.fft.irfft(y[: k.size] + 1j * y[k.size:], n)
    return {"u0": jnp.asarray(np.fft.irfft(v0, n)), "exact": exact}


def rollout_memory():
    u0 = jnp.sin(2 * jnp.pi * jnp.arange(256.0) / 256)
    rows = []
    for steps in (100, 1000, 10000):
        for ck in (None, 32):
            f = jax.jit(jax.grad(lambda u, ck=ck, steps=steps: jnp.sum(
                burgers(u, nu=0.1, t_final=1.0, dt=1.0 / steps, checkpoints=ck) ** 2)))
            m = f.lower(u0).compile().memory_analysis()
            rows.append(["burgers grad, n=256", steps, "plain scan" if ck is None else
                         f"checkpointed ({ck})", m.temp_size_in_bytes / 2**20])
    return rows


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def dataset_costs(quick):
    rows, raw = [], {}
    plans = [
        ("burgers", 1200, dict(resolution=1024)),
        ("darcy", 1200, dict(resolution=85)),
    ]
    if quick:
        plans = [("burgers", 100, dict(resolution=1024)), ("darcy", 60, dict(resolution=85))]
    with tempfile.TemporaryDirectory() as tmp:
        for name, n, kw in plans:
            t = time.perf_counter()
            ds = datasets.make(name, n, cache_dir=tmp, **kw)
            wall = time.perf_counter() - t
            t = time.perf_counter()
            datasets.make(name, n, cache_dir=tmp, progress=False, **kw)
            reload = time.perf_counter() - t
            size = sum(f.stat().st_size for f in ds.path.iterdir()) / 2**20
            raw[name] = {"n": n, "wall_s": wall, "reload_s": reload, "disk_mib": size,
                         "peak_rss_mib": peak_rss_mib(),
                         "tail": ds.manifest["diagnostics"]["max_tail_fraction"]}
            rows.append([name, n, kw["resolution"], wall, wall / n, reload, size, peak_rss_mib()])
        # Navier-Stokes: a few samples of the full T = 50 trajectory, per-sample cost
        n_ns = 2 if quick else 8
        t = time.perf_counter()
        ds = datasets.make("navier_stokes", n_ns, cache_dir=tmp, shard_size=n_ns,
                           t_final=10.0 if quick else 50.0, num_snapshots=10 if quick else 50)
        wall = time.perf_counter() - t
        raw["navier_stokes"] = {"n": n_ns, "wall_s": wall, "per_sample_s": wall / n_ns,
                                "t_final": ds.manifest["params"]["t_final"],
                                "tail": ds.manifest["diagnostics"]["max_tail_fraction"]}
        t_ns = ds.manifest["params"]["t_final"]
        rows.append([f"navier_stokes (nu 1e-3, T={t_ns:g}, solved at 128)", n_ns, 64, wall,
                     wall / n_ns, "-", "-", peak_rss_mib()])
    return rows, raw


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    rounds = 2 if args.quick else args.rounds
    batch = 8 if args.quick else 32

    # 1. Burgers and KS, accuracy vs time, against exponax (ETDRK4, order 4)
    n = 256
    u0 = _dealiased_grf(n, jr.split(jr.key(7), batch)[0])
    burgers_ref = {"exact": burgers_exact(np.asarray(u0), 1.0, nu=0.1)}
    dts = [2e-3, 1e-3, 5e-4, 2.5e-4]
    b_rows, b_raw = accuracy_vs_speed(
        "burgers", n, dts, 1.0,
        lambda u, dt, r: burgers(u, nu=0.1, t_final=1.0, dt=dt, start_refine=r),
        lambda dt: _exponax_rollout(ex.stepper.Burgers(1, 1.0, n, dt, diffusivity=0.1, order=4),
                                    round(1.0 / dt)),
        burgers_ref, rounds, batch,
    )
    length, n_ks, t_ks = 22.0, 64, 5.0
    ks_ref = ks_reference(n_ks, length, t_ks)
    k_rows, k_raw = accuracy_vs_speed(
        "ks", n_ks, [0.1, 0.05, 0.025, 0.0125], t_ks,
        lambda u, dt, r: kuramoto_sivashinsky(u, t_final=t_ks, dt=dt, length=length,
                                              start_refine=r),
        lambda dt: _exponax_rollout(
            ex.stepper.KuramotoSivashinskyConservative(1, length, n_ks, dt, order=4),
            round(t_ks / dt)),
        ks_ref, rounds, batch,
    )
    eq = {"burgers@1e-11": equal_accuracy(b_raw, 1e-11), "ks@1e-8": equal_accuracy(k_raw, 1e-8)}
    eq_rows = []
    for k, v in eq.items():
        ours = min((t for t in (v["jaxspec"], v["jaxspec_plain"]) if t), default=None)
        ratio = (v["exponax"] / ours) if v["exponax"] and ours else "-"
        eq_rows.append([k, v["jaxspec"] or "not reached", v["jaxspec_plain"] or "not reached",
                        v["exponax"] or "not reached", ratio])

    mem_rows = rollout_memory()
    ds_rows, ds_raw = dataset_costs(args.quick)

    payload = {
        "environment": environment(), "exponax": EXPONAX, "quick": args.quick, "batch": batch,
        "burgers": b_raw, "ks": k_raw, "equal_accuracy": eq, "datasets": ds_raw,
        "rollout_memory_mib": mem_rows,
    }
    md = (
        f"Peers: exponax {EXPONAX or 'not installed'} (ETDRK4, `order=4`). Rollouts batched "
        f"over {batch} initial conditions (vmap), median of {rounds} alternating rounds; "
        "error: relative L2 of one sample vs the exact Cole-Hopf solution (Burgers, FNO "
        "setting nu=0.1, t=1, n=256) or scipy DOP853 at rtol 1e-13 on the same Galerkin system "
        "(KS, L=22, n=64, t=5).\n\n"
        + "`plain` = jaxspec with `start_refine=1` (same step count as exponax; the default "
        "splits the first 20 steps 10-fold).\n\n"
        + md_table(["problem", "n", "dt", "jaxspec error", "plain error", "exponax error",
                    "jaxspec s", "plain s", "exponax s", "exponax / plain time"],
                   b_rows + k_rows)
        + "\n\nEqual accuracy (fastest dt of the sweep meeting the target):\n\n"
        + md_table(["target", "jaxspec s", "plain s", "exponax s", "speed-up (best jaxspec)"],
                   eq_rows)
        + "\n\nReverse-mode memory of `grad` through a Burgers rollout (compiled XLA temp):\n\n"
        + md_table(["case", "steps", "scan", "temp MiB"], mem_rows)
        + "\n\nDataset generation (float64 compute, float32 storage; wall time includes "
        "compilation; peak RSS of the whole benchmark process so far):\n\n"
        + md_table(["dataset", "samples", "s", "wall s", "s / sample", "reload s", "disk MiB",
                    "peak RSS MiB"], ds_rows)
    )
    write("physics", payload, md)


if __name__ == "__main__":
    restart_with_huge_pages()  # before any large allocation; see jaxspec.jobs
    main()
