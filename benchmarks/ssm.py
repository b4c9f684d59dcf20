"""jaxspec.ssm benchmarks: Hankel filters, STU and diagonal SSM speed and memory, parity with
negative eigenvalues, sequential digits.

- filters: `spectral_filters` (Lanczos + FFT products, float64) vs a dense `scipy.linalg.eigh`
  of Z_L (top-24 subset): time, eigenvalue and eigenvector agreement (up to sign).
- STU, batch 8, 64 -> 64 channels, K = 24 filters, L in {1k, 4k, 16k}: jaxspec's
  frequency-domain contraction vs the per-filter layout of the reference implementations
  (one FFT per filter and channel, projection in time: DeepMind spectral_ssm), both in JAX;
  forward and forward+backward time and XLA peak memory (temporaries + arguments + outputs).
- Diagonal SSM, same sizes: jaxspec S5 (sequential `lax.scan` and parallel associative scan)
  vs the `s5-pytorch` S5 layer (HiPPO-LegS, ZOH, 64 complex states without conjugate
  symmetry; PyTorch with 1 and 2 threads). jaxspec's `state_size=128` keeps 64 complex modes
  (the same work as the peer); `state_size=64` keeps 32 modes, which is the same real system
  as the peer's 64 complex states (conjugate symmetry).
- parity: SelectiveSSM with eigenvalues in [-1, 1] vs [0, 1], train lengths 3-40, test
  40-256, scaled accuracy `2 acc - 1` at the last position, several seeds.
- sequential 8x8 digits: bidirectional S5 (2 layers, width 64) with 1-pixel shifts as
  augmentation; test accuracy on a seeded stratified 20 % split (359 images).

    python benchmarks/ssm.py [--rounds N] [--quick] [--skip-training]
"""

from __future__ import annotations

import argparse
import os
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import scipy.linalg as sl

import jaxspec.ssm as S
from _common import environment, md_table, restart_with_huge_pages, time_alternating, write
from jaxspec.ssm._filters import _compute

try:
    import s5 as s5_torch
    import torch

    PEER = f"s5-pytorch {getattr(s5_torch, '__version__', '0.2.1')}, torch {torch.__version__}"
except ImportError:  # reported, not fatal
    torch = s5_torch = None
    PEER = None

BATCH, CHANNELS, K = 8, 64, 24


def memory_mb(jitted, *args) -> float:
    mem = jitted.lower(*args).compile().memory_analysis()
    total = mem.temp_size_in_bytes + mem.argument_size_in_bytes + mem.output_size_in_bytes
    return total / 2**20


# ----------------------------------------------------------------------------- filters
def bench_filters(lengths, dense_lengths):
    rows, out = [], []
    for length in lengths:
        jax.clear_caches()
        t = time.perf_counter()
        sigma, phi, _ = _compute(length, K)
        first = time.perf_counter() - t
        warm = []
        for _ in range(3):
            t = time.perf_counter()
            _compute(length, K)
            warm.append(time.perf_counter() - t)
        rec = {"L": length, "first_call_s": first, "warm_s": float(np.median(warm))}
        if length in dense_lengths:
            t = time.perf_counter()
            w, v = sl.eigh(S.hankel_matrix(length), subset_by_index=[length - K, length - 1])
            rec["dense_s"] = time.perf_counter() - t
            w, v = w[::-1], v[:, ::-1]
            rec["eig_err_rel"] = float(np.abs(sigma - w).max() / w[0])
            err = [
                min(np.abs(phi[:, k] - v[:, k]).max(), np.abs(phi[:, k] + v[:, k]).max())
                for k in range(K)
            ]
            rec["vec_err_lead8"] = float(max(err[:8]))
            rec["vec_err_lead16"] = float(max(err[:16]))
        out.append(rec)
        rows.append(
            [
                length,
                first,
                rec["warm_s"],
                rec.get("dense_s", "-"),
                rec.get("eig_err_rel", "-"),
                rec.get("vec_err_lead8", "-"),
                rec.get("vec_err_lead16", "-"),
            ]
        )
        print(rec, flush=True)
    table = md_table(
        [
            "L",
            "first call s (compile)",
            "warm s",
            "dense eigh s",
            "eigenvalue err / sigma_1",
            "vector err, lead 8",
            "lead 16",
        ],
        rows,
    )
    return out, table


# --------------------------------------------------------------------------------- STU
def per_filter_stu(stu: S.STU, x):
    """Reference layout: one FFT convolution per (filter, channel), projection in time."""
    length = x.shape[0]
    n = 2 * length
    pos, neg = stu._weights()
    taps = jnp.concatenate([pos[:length], neg[:length]], axis=1)  # (L, 2K)

    def conv(f, u):  # one filter, one channel
        return jnp.fft.irfft(jnp.fft.rfft(f, n=n) * jnp.fft.rfft(u, n=n), n=n)[:length]

    feats = jax.vmap(
        lambda f: jax.vmap(lambda u: conv(f, u), in_axes=1, out_axes=1)(x), in_axes=1, out_axes=1
    )(taps)  # (L, 2K, d_in)
    y = jnp.einsum("tki,kio->to", feats, stu._mats())
    for j in range(stu.m_u.shape[0]):
        y = y.at[j:].add(x[: length - j] @ stu.m_u[j])
    return y


def bench_stu(lengths, rounds):
    rows, out = [], []
    for length in lengths:
        stu = S.STU(CHANNELS, CHANNELS, length, num_filters=K, dtype=jnp.float32, key=jr.key(0))
        x = jr.normal(jr.key(1), (BATCH, length, CHANNELS), jnp.float32)
        fns, mems = {}, {}
        for name, fwd in (("jaxspec", lambda m, x: m(x)), ("per-filter", per_filter_stu)):
            f = jax.jit(lambda m, x, fwd=fwd: jax.vmap(lambda xi: fwd(m, xi))(x))
            g = jax.jit(
                jax.grad(lambda m, x, fwd=fwd: jnp.sum(jax.vmap(lambda xi: fwd(m, xi))(x) ** 2))
            )
            fns[f"{name} fwd"] = lambda f=f, m=stu, x=x: f(m, x)
            fns[f"{name} fwd+bwd"] = lambda g=g, m=stu, x=x: g(m, x)
            mems[f"{name} fwd"] = memory_mb(f, stu, x)
            mems[f"{name} fwd+bwd"] = memory_mb(g, stu, x)
        y1 = fns["jaxspec fwd"]()
        y2 = fns["per-filter fwd"]()
        agree = float(jnp.abs(y1 - y2).max() / jnp.abs(y2).max())
        t = time_alternating(fns, rounds=rounds)
        rec = {"L": length, "timings": t, "memory_mb": mems, "rel_diff": agree}
        out.append(rec)
        for what in ("fwd", "fwd+bwd"):
            a, b = t[f"jaxspec {what}"], t[f"per-filter {what}"]
            rows.append(
                [
                    length,
                    what,
                    a["median_s"],
                    b["median_s"],
                    b["median_s"] / a["median_s"],
                    mems[f"jaxspec {what}"],
                    mems[f"per-filter {what}"],
                    a["compile_s"],
                ]
            )
        print(length, {k: round(v["median_s"], 4) for k, v in t.items()}, mems, agree, flush=True)
    table = md_table(
        [
            "L",
            "pass",
            "jaxspec s",
            "per-filter s",
            "speed-up",
            "jaxspec MB",
            "per-filter MB",
            "jaxspec compile s",
        ],
        rows,
    )
    return out, table


# ------------------------------------------------------------------------ diagonal SSM
def bench_diagonal(lengths, rounds):
    rows, out = [], []
    for length in lengths:
        x = jr.normal(jr.key(1), (BATCH, length, CHANNELS), jnp.float32)
        fns = {}
        for state in (64, 128):
            layer = S.DiagonalSSM(CHANNELS, state, kind="s5", dtype=jnp.float32, key=jr.key(0))
            for mode in ("sequential", "parallel"):
                f = eqx.filter_jit(lambda m, x, mode=mode: jax.vmap(lambda xi: m(xi, mode=mode))(x))
                g = eqx.filter_jit(
                    eqx.filter_grad(
                        lambda m, x, mode=mode: jnp.sum(
                            jax.vmap(lambda xi: m(xi, mode=mode))(x) ** 2
                        )
                    )
                )
                tag = f"jaxspec N={state} {mode}"
                fns[f"{tag} fwd"] = lambda f=f, m=layer, x=x: f(m, x)
                fns[f"{tag} fwd+bwd"] = lambda g=g, m=layer, x=x: g(m, x)
        if PEER:
            model = s5_torch.S5(CHANNELS, 64)
            xt = torch.from_numpy(np.asarray(x))

            def torch_fwd(model=model, xt=xt):
                with torch.no_grad():
                    return model(xt)

            def torch_bwd(model=model, xt=xt):
                model.zero_grad()
                (model(xt) ** 2).sum().backward()

            for threads in (1, 2):
                fns[f"s5-pytorch {threads}t fwd"] = lambda th=threads: (
                    torch.set_num_threads(th),
                    torch_fwd(),
                )[1].numpy()
                fns[f"s5-pytorch {threads}t fwd+bwd"] = lambda th=threads: (
                    torch.set_num_threads(th),
                    torch_bwd(),
                )[0]
        t = time_alternating(fns, rounds=rounds)
        out.append({"L": length, "timings": t})
        print(length, {k: round(v["median_s"], 4) for k, v in t.items()}, flush=True)
        for what in ("fwd", "fwd+bwd"):
            peer1 = t.get(f"s5-pytorch 1t {what}", {}).get("median_s")
            peer2 = t.get(f"s5-pytorch 2t {what}", {}).get("median_s")
            peer = min(p for p in (peer1, peer2) if p) if PEER else None
            for state in (64, 128):
                for mode in ("sequential", "parallel"):
                    r = t[f"jaxspec N={state} {mode} {what}"]
                    rows.append(
                        [
                            length,
                            what,
                            f"N={state} {mode}",
                            r["median_s"],
                            r["compile_s"],
                            peer1 or "-",
                            peer2 or "-",
                            (peer / r["median_s"]) if peer else "-",
                        ]
                    )
    torch.set_num_threads(os.cpu_count() or 1) if PEER else None
    table = md_table(
        [
            "L",
            "pass",
            "jaxspec S5",
            "s",
            "compile s (first call)",
            "s5-pytorch 1 thread s",
            "2 threads s",
            "speed-up vs best peer",
        ],
        rows,
    )
    return out, table


# --------------------------------------------------------------------------------- tasks
def parity_run(eigenvalue_range, seed, steps):
    r = S.parity_experiment(eigenvalue_range, seed=seed, steps=steps)
    return {"range": str(eigenvalue_range), "seed": seed, "train_s": r["seconds"],
            "train_loss": r["train_loss"], "test_final_accuracy": r["final_accuracy"],
            "scaled": r["scaled"]}


def bench_parity(seeds, steps):
    out, rows = [], []
    for rng in ((-1, 1), (0, 1)):
        runs = [parity_run(rng, s, steps) for s in seeds]
        for r in runs:
            print(r, flush=True)
        out += runs
        sc = [r["scaled"] for r in runs]
        rows.append(
            [
                f"[{rng[0]}, {rng[1]}]",
                len(runs),
                float(np.min(sc)),
                float(np.median(sc)),
                float(np.max(sc)),
                float(np.median([r["train_s"] for r in runs])),
            ]
        )
    return out, md_table(
        ["eigenvalues", "seeds", "scaled acc min", "median", "max", "train s (median)"], rows
    )


def bench_digits(seeds, steps):
    train, test = S.sequential_digits()
    out, rows = [], []
    for seed in seeds:
        model = S.SequenceModel(
            10,
            input_dim=1,
            d_model=64,
            num_layers=2,
            state_size=64,
            layer="s5",
            layer_kwargs={"bidirectional": True},
            pooling="mean",
            key=jr.key(seed),
        )
        res = S.fit(
            model,
            train,
            steps=steps,
            batch_size=32,
            learning_rate=3e-3,
            key=jr.key(100 + seed),
            augment=S.shift_digits,
            progress=False,
        )
        acc = S.evaluate(res.model, test)["accuracy"]
        rec = {
            "seed": seed,
            "test_accuracy": acc,
            "train_s": res.seconds,
            "n_train": len(train),
            "n_test": len(test),
        }
        print(rec, flush=True)
        out.append(rec)
        rows.append([seed, acc, res.seconds])
    return out, md_table(["seed", "test accuracy", "train s"], rows)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--skip-training", action="store_true")
    args = ap.parse_args()
    lengths = [1024, 4096] if args.quick else [1024, 4096, 16384]
    payload = {"environment": environment(), "peer": PEER or "s5-pytorch not installed"}
    md = []
    with jax.enable_x64(True):
        f, t = bench_filters(
            [2048, 4096] if args.quick else [4096, 8192, 16384],
            {2048, 4096} if args.quick else {4096, 8192},
        )
    payload["filters"] = f
    md += ["## Hankel filters (K = 24, float64)", "", t, ""]
    s, t = bench_stu(lengths, args.rounds)
    payload["stu"] = s
    md += [f"## STU, batch {BATCH}, {CHANNELS} channels, K = {K} (float32)", "", t, ""]
    d, t = bench_diagonal(lengths, args.rounds)
    payload["diagonal"] = d
    md += [f"## Diagonal SSM (S5) vs {PEER}, batch {BATCH}, {CHANNELS} channels", "", t, ""]
    if not args.skip_training:
        p, t = bench_parity([0, 1] if args.quick else [0, 1, 2, 3, 4], 300 if args.quick else 1000)
        payload["parity"] = p
        md += ["## Parity, SelectiveSSM, train lengths 3-40, test 40-256", "", t, ""]
        g, t = bench_digits([0] if args.quick else [0, 1], 300 if args.quick else 3000)
        payload["digits"] = g
        md += [
            "## Sequential 8x8 digits (bidirectional S5, 2 layers, d_model 64, 1-pixel shift "
            "augmentation, 3000 steps of batch 32)",
            "",
            t,
            "",
        ]
    write("ssm", payload, "\n".join(md))


if __name__ == "__main__":
    restart_with_huge_pages()  # before any large allocation; see jaxspec.jobs
    main()
