"""jaxspec.fno vs neuraloperator 2.0 (PyTorch CPU): one training step, same architecture.

A step is forward + backward + Adam on a batch of 20 with the relative L2 loss, through
`fno.batch_apply` (the path `fno.fit` takes) and, for comparison, `jax.vmap` of the
single-sample model. The neuraloperator model is configured as the FNO paper's (single linear
lifting, no channel MLP in the blocks, linear skips, a projection through 128 channels as the
paper's `fc1`, grid features), with the same kept modes (neuraloperator counts the last axis
as `n_modes // 2 + 1`); parameter counts are printed side by side, and a case whose counts
differ is an error. Each tool is timed in its own worker process, one process at a
time, the tools' processes alternating (`--repeats` runs of `--rounds` steps each); PyTorch
is timed with 1 and 2 threads, XLA with its default.

    python benchmarks/fno.py [--rounds N] [--repeats R] [--quick]   # results/fno.{json,md}
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import optax

import jaxspec.fno as jf
from _common import environment, md_table, restart_with_huge_pages, time_alternating, write

try:
    import neuralop
    import torch

    PEER = f"neuraloperator {neuralop.__version__}, torch {torch.__version__}"
except ImportError:  # reported, not fatal
    torch = neuralop = None
    PEER = None

BATCH = 20
PROJECTION = 128  # the FNO paper's projection width (fc1: width -> 128 -> out) in every case

CASES = [
    # name, spatial, modes (ours), width, padding, factorization
    ("1D N=1024, modes 16, width 64", (1024,), (16,), 64, 0.0, None),
    ("2D 85x85 + padding, modes 12, width 32", (85, 85), (12, 12), 32, 0.1, None),
    ("2D 64x64, modes 12, width 32", (64, 64), (12, 12), 32, 0.0, None),
    ("2D 64x64, modes 12, width 32, Tucker rank 0.1", (64, 64), (12, 12), 32, 0.0, "tucker"),
]


# neuraloperator's `rank=0.1` (tensorly-torch's fraction-of-parameters rule) gives the Tucker
# case ranks (18, 18, 13, 7) for (in, out, mode axes); jaxspec's own `rank=0.1` rule (the
# largest common fraction of the dimensions within 10 %) gives (17, 17, 13, 7), so it gets
# tensorly's ranks explicitly and both models have the same parameters.
TUCKER_RANKS = (18, 18, 13, 7)


def jax_step(spatial, modes, width, padding, factorization, batch, batched=True):
    rank = TUCKER_RANKS if factorization == "tucker" else 0.1
    model = jf.FNO(1, 1, modes, width, padding=padding, projection_channels=PROJECTION,
                   factorization=factorization, rank=rank, dtype=jnp.float32, key=jr.key(0))
    params, static = eqx.partition(model, eqx.is_inexact_array)
    opt = optax.adam(1e-3)
    state = opt.init(params)
    x = jr.normal(jr.key(1), (batch, 1, *spatial), jnp.float32)
    y = jr.normal(jr.key(2), (batch, 1, *spatial), jnp.float32)

    def loss(p):
        m = eqx.combine(p, static)
        out = jf.batch_apply(m, x) if batched else jax.vmap(m)(x)
        return jnp.mean(jax.vmap(jf.relative_lp)(out, y))

    @jax.jit
    def step(p, s):
        val, g = jax.value_and_grad(loss)(p)
        upd, s = opt.update(g, s, p)
        return optax.apply_updates(p, upd), s, val

    box = {"p": params, "s": state}

    def run():
        box["p"], box["s"], v = step(box["p"], box["s"])
        return v

    count = sum(a.size for a in jax.tree_util.tree_leaves(params))
    compiled = step.lower(params, state).compile()
    mem = compiled.memory_analysis()
    return run, count, mem.temp_size_in_bytes / 2**20


def torch_step(spatial, modes, width, padding, factorization, batch):
    n_modes = (*(2 * m for m in modes[:-1]), 2 * modes[-1] - 2)  # last axis keeps n // 2 + 1
    model = neuralop.models.FNO(
        n_modes=n_modes, in_channels=1, out_channels=1, hidden_channels=width, n_layers=4,
        lifting_channel_ratio=0, projection_channel_ratio=PROJECTION / width,
        use_channel_mlp=False,
        fno_skip="linear", domain_padding=padding if padding else None,
        positional_embedding="grid",
        **({"factorization": factorization, "rank": 0.1, "implementation": "factorized"}
           if factorization else {}),
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(batch, 1, *spatial)
    y = torch.randn(batch, 1, *spatial)

    def run():
        opt.zero_grad()
        out = model(x)
        diff = (out - y).reshape(batch, -1).norm(dim=1) / y.reshape(batch, -1).norm(dim=1)
        loss = diff.mean()
        loss.backward()
        opt.step()
        return loss.item()

    count = sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters())
    return run, count


def worker(tool: str, case: int, rounds: int) -> dict:
    """Time one case with one tool in this process (the two variants of the tool alternating);
    prints nothing, returns {variant: {"compile_s", "times"}, ...} plus sizes."""
    _, spatial, modes, width, padding, fact = CASES[case]
    if tool == "jax":
        run_j, count, mem = jax_step(spatial, modes, width, padding, fact, BATCH)
        run_v, _, mem_v = jax_step(spatial, modes, width, padding, fact, BATCH, batched=False)
        fns = {"jaxspec": run_j, "jaxspec (vmap)": run_v}
        extra = {"params": count, "temp_mib": mem, "vmap_temp_mib": mem_v}
    else:
        run_t, count = torch_step(spatial, modes, width, padding, fact, BATCH)

        def t1(run=run_t):
            torch.set_num_threads(1)
            return run()

        def t2(run=run_t):
            torch.set_num_threads(2)
            return run()

        fns = {"torch (1 thread)": t1, "torch (2 threads)": t2}
        extra = {"params": count}
    return {"timings": time_alternating(fns, rounds=rounds, keep_times=True), **extra}


def run_worker(tool: str, case: int, rounds: int) -> dict:
    cmd = [sys.executable, __file__, "--worker", tool, "--case", str(case),
           "--rounds", str(rounds)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark worker {tool!r} (case {case}) failed:\n"
                           f"{proc.stderr[-4000:]}")
    return json.loads([line for line in proc.stdout.splitlines() if line.startswith("{")][-1])


def merge(parts: list[dict]) -> dict:
    """Pool the timed rounds of several worker runs of one tool."""
    out = {}
    for part in parts:
        for k, d in part["timings"].items():
            o = out.setdefault(k, {"compile_s": d["compile_s"], "times": []})
            o["times"] += d["times"]
    for d in out.values():
        ts = d.pop("times")
        d.update(median_s=statistics.median(ts), min_s=min(ts), max_s=max(ts), n=len(ts))
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=5, help="timed rounds per worker run")
    p.add_argument("--repeats", type=int, default=3, help="alternating worker runs per tool")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--worker", choices=["jax", "torch"], help=argparse.SUPPRESS)
    p.add_argument("--case", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.case, args.rounds), default=float))
        return
    rounds, repeats = (2, 1) if args.quick else (args.rounds, args.repeats)
    tools = ["jax", "torch"] if torch is not None else ["jax"]
    rows, raw = [], []
    for i, (name, *_) in enumerate(CASES):
        parts = {tool: [] for tool in tools}
        for _ in range(repeats):  # the tools' processes alternate; one runs at a time
            for tool in tools:
                parts[tool].append(run_worker(tool, i, rounds))
        t = merge(parts["jax"])
        jx, jv = t["jaxspec"]["median_s"], t["jaxspec (vmap)"]["median_s"]
        mem_j, count_j = parts["jax"][0]["temp_mib"], parts["jax"][0]["params"]
        r = {"case": name, "params_jaxspec": count_j, "jaxspec": t["jaxspec"],
             "jaxspec_vmap": t["jaxspec (vmap)"], "jax_temp_mib": mem_j,
             "jax_vmap_temp_mib": parts["jax"][0]["vmap_temp_mib"]}
        row = [name, count_j, "-", f"{1e3 * jx:.1f}", f"{1e3 * jv:.1f}",
               f"{t['jaxspec']['compile_s']:.1f}", f"{mem_j:.0f}"]
        if torch is not None:
            tt = merge(parts["torch"])
            r["params_peer"] = row[2] = parts["torch"][0]["params"]
            if r["params_peer"] != count_j:
                raise RuntimeError(f"{name}: the models differ ({count_j} parameters in "
                                   f"jaxspec, {r['params_peer']} in neuraloperator)")
            r["torch_1"], r["torch_2"] = tt["torch (1 thread)"], tt["torch (2 threads)"]
            t1s, t2s = r["torch_1"]["median_s"], r["torch_2"]["median_s"]
            row += [f"{1e3 * t1s:.1f}", f"{1e3 * t2s:.1f}", f"{min(t1s, t2s) / jx:.2f}",
                    f"{min(t1s, t2s) / jv:.2f}"]
        else:
            row += ["not installed"] * 4
        raw.append(r)
        rows.append(row)
        print(row, flush=True)
    payload = {"environment": environment(), "peer": PEER, "batch": BATCH, "rounds": rounds,
               "repeats": repeats, "cases": raw}
    md = (f"Peer: {PEER or 'neuraloperator not installed'}. One training step (forward, "
          f"backward, Adam) on a batch of {BATCH}, float32. Each tool runs in its own worker "
          f"process, one at a time ({repeats} alternating worker runs per tool and case, "
          f"{rounds} timed rounds each; median of all): with 2 cores, two runtimes in one "
          "process slowed each other's steps by 15-40 % through their idle worker threads. "
          "Speed-up = best PyTorch time / jaxspec time. \"jaxspec\" is the batch-major "
          "path `fit` uses (`fno.batch_apply(model, x)`, i.e. `model.batched`); \"vmap\" is "
          "`jax.vmap(model)` of the single-sample call (same numbers, per-sample channel maps). "
          "JAX compile time and the compiled step's XLA temp memory (batch-major path) are "
          "reported separately.\n\n"
          + md_table(["case", "params (jaxspec)", "params (neuralop)", "jaxspec ms",
                      "vmap ms", "compile s", "XLA temp MiB", "torch 1T ms", "torch 2T ms",
                      "speed-up", "speed-up (vmap)"], rows))
    write("fno", payload, md)


if __name__ == "__main__":
    restart_with_huge_pages()  # before any large allocation; see jaxspec.jobs
    t0 = time.perf_counter()
    main()
    print(f"total {time.perf_counter() - t0:.0f} s")

