"""The `jaxspec` command line: `jaxspec tour`, `jaxspec data` (and the pillars' batch jobs)."""

from __future__ import annotations

import argparse
import sys


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="jaxspec",
        description="jaxspec: spectral methods for scientific ML and differentiable physics.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    t = sub.add_parser(
        "tour",
        help="a short run of every pillar: prints a table of figures, writes a report",
        description=(
            "Runs a short section of every pillar on the CPU, prints a summary table (figure, "
            "reference, value, error, time) and writes runs/tour-<time>/report.md with plots."
        ),
    )
    t.add_argument("--out", default="runs", help="parent folder of the report (default: runs)")
    t.add_argument(
        "--sections", nargs="*", default=None,
        help="subset of sections to run (default: all); see --list",
    )
    t.add_argument("--list", action="store_true", help="list the sections and exit")
    t.add_argument("--quick", action="store_true", help="smaller sizes (for smoke tests)")

    d = sub.add_parser("data", help="generate, list and inspect cached PDE datasets")
    dsub = d.add_subparsers(dest="data_command", metavar="ACTION")
    m = dsub.add_parser(
        "make", help="generate (or reload) a named dataset into the cache",
        description="Generates N samples of a named dataset with jaxspec.physics (float64 "
        "computation), stored as checksummed .npz shards with a manifest; reruns reuse it.",
    )
    m.add_argument("name", help="burgers, darcy, navier_stokes or ks (see `jaxspec data list`)")
    m.add_argument("--n", type=int, required=True, help="number of samples")
    m.add_argument("--resolution", type=int, default=None, help="output points per axis")
    m.add_argument("--cache", default=None, help="cache folder (default $JAXSPEC_CACHE or "
                   "~/.cache/jaxspec/datasets)")
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--shard-size", type=int, default=100, help="samples per batch and file")
    m.add_argument("--float64", action="store_true", help="store float64 (default float32)")
    m.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a generator parameter, e.g. --set nu=0.05 (repeatable)")
    dsub.add_parser("list", help="list the datasets with their default parameters")
    _job_parsers(sub)
    i = dsub.add_parser("info", help="verify a dataset folder and print its manifest summary")
    i.add_argument("path")
    return p


_JOBS = {
    # pillar: (action, help, description)
    "ssm": ("train", "train a spectral state-space model on an offline task",
            "Trains a SequenceModel (STU, S5/S4D/LRU, real or selective SSM) on one of the "
            "seeded tasks (parity, modular arithmetic, copying, recall, LDS, digits, ListOps). "
            "Checkpoints (orbax) every checkpoint_every steps; rerunning with the same "
            "--run-dir resumes; SIGTERM saves and stops. Writes config.json, metrics.jsonl, "
            "log.txt, loss.png and result.json into the run folder."),
    "fno": ("train", "train an FNO on a dataset made by jaxspec.physics",
            "Generates (or loads from the cache) a Burgers or Darcy dataset and trains an FNO "
            "with the paper's recipe; checkpoints every checkpoint_every epochs, resumes from "
            "the same --run-dir, SIGTERM saves and stops; result.json holds the test error."),
    "hessian": ("spectrum", "Hessian spectrum of an MLP trained on the 8x8 digits",
                "Trains a small tanh MLP on scikit-learn's bundled digits, then computes the "
                "Hessian's top-k eigenpairs (thick-restart Lanczos on HVPs), an SLQ spectral "
                "density and a Hutchinson trace; writes result.json and density.png."),
    "pinn": ("solve", "solve a named Schroedinger / Sturm-Liouville eigenproblem",
             "Runs jaxspec.pinn.solve on a named problem (infinite_well, finite_well, "
             "finite_barrier, harmonic_oscillator, hydrogen_radial, square_drum, disk_drum) "
             "and writes energies, certified intervals and errors to result.json with a plot."),
}


def _job_parsers(sub) -> None:
    for pillar, (action, help_, desc) in _JOBS.items():
        p = sub.add_parser(pillar, help=f"{action}: {help_}")
        ps = p.add_subparsers(dest="action", metavar="ACTION")
        a = ps.add_parser(action, help=help_, description=desc)
        a.add_argument("--config", default=None, help="preset file (.toml or .json), e.g. "
                       f"scripts/configs/{pillar}_*.toml")
        a.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a config key (repeatable; values parse as JSON)")
        a.add_argument("--run-dir", default=None, help=f"run folder (default runs/{pillar}-"
                       "<config hash>); an existing one with the same config is resumed")
        a.add_argument("--print-config", action="store_true",
                       help="print the resolved config and exit")
        a.add_argument("--stop-after", type=int, default=None,
                       help="stop (with a checkpoint) after this many steps/epochs")
        a.add_argument("--compilation-cache", default=None, metavar="DIR",
                       help="persistent XLA compilation cache (or $JAXSPEC_COMPILATION_CACHE)")
        a.add_argument("--quiet", action="store_true", help="no progress bar")


def _job(args) -> int:
    import hashlib
    import json

    from . import jobs

    if args.action is None:
        _parser().parse_args([args.command, "--help"])
        return 2
    cls, run = {"ssm": (jobs.SSMJob, jobs.run_ssm), "fno": (jobs.FNOJob, jobs.run_fno),
                "hessian": (jobs.HessianJob, jobs.run_hessian),
                "pinn": (jobs.PinnJob, jobs.run_pinn)}[args.command]
    cfg = jobs.load_config(cls, args.config, args.set)
    resolved = jobs.config_to_dict(cfg)
    if args.print_config:
        print(json.dumps(resolved, indent=2, sort_keys=True))
        return 0
    jobs.configure_compilation_cache(args.compilation_cache)
    jobs.maybe_initialize_distributed()
    run_dir = args.run_dir
    if run_dir is None:
        digest = hashlib.sha256(json.dumps(resolved, sort_keys=True).encode()).hexdigest()[:8]
        run_dir = f"runs/{args.command}-{digest}"
    result = run(cfg, run_dir, progress=not args.quiet, stop_after=args.stop_after)
    print(json.dumps({"run_dir": str(run_dir), **result}, default=float))
    return 0


def _parse_value(text: str):
    import json

    try:
        return json.loads(text)
    except ValueError:
        return text


def _data(args) -> int:
    import jax

    from .physics import datasets

    if args.data_command == "list":
        for name in datasets.DATASETS:
            print(datasets.describe(name))
        return 0
    if args.data_command == "info":
        ds = datasets.load(args.path)
        m = ds.manifest
        print(f"{m['name']}: n={m['n']}, seed={m['seed']}, fields="
              + ", ".join(f"{k}{tuple(v['shape'])} {v['dtype']}" for k, v in m["fields"].items()))
        print("params: " + ", ".join(f"{k}={v}" for k, v in m["params"].items()))
        print(f"checksums: {len(m['shards'])} shard(s) verified; generated in "
              f"{m['wall_time_s']:.1f} s")
        return 0
    if args.data_command != "make":
        _parser().parse_args(["data", "--help"])
        return 2
    jax.config.update("jax_enable_x64", True)  # an application: compute in float64
    overrides = {}
    for item in args.set:
        if "=" not in item:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        overrides[k.strip()] = _parse_value(v.strip())
    ds = datasets.make(
        args.name, args.n, resolution=args.resolution, cache_dir=args.cache, seed=args.seed,
        shard_size=args.shard_size, storage_dtype="float64" if args.float64 else "float32",
        **overrides,
    )
    shapes = ", ".join(f"{k}{v.shape}" for k, v in ds.arrays.items())
    print(f"{ds.name}: {shapes} in {ds.path} (generation {ds.manifest['wall_time_s']:.1f} s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    if argv is None:  # the `jaxspec` command itself, not a call from Python
        from ._core._malloc import restart_with_huge_pages

        restart_with_huge_pages()
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return 0
    if args.command == "tour":
        from .tour import SECTIONS, run_tour

        if args.list:
            for name, (_, blurb) in SECTIONS.items():
                print(f"{name:10s} {blurb}")
            return 0
        try:
            run_tour(args.out, sections=args.sections, quick=args.quick)
        except ValueError as e:
            print(f"jaxspec tour: {e}", file=sys.stderr)
            return 2
        return 0
    if args.command == "data":
        try:
            return _data(args)
        except (ValueError, OSError) as e:
            print(f"jaxspec data: {e}", file=sys.stderr)
            return 2
    if args.command in _JOBS:
        try:
            return _job(args)
        except (ValueError, TypeError, FileNotFoundError) as e:
            print(f"jaxspec {args.command} {args.action}: {e}", file=sys.stderr)
            return 2
        except FloatingPointError as e:
            print(f"jaxspec {args.command} {args.action}: {e}", file=sys.stderr)
            return 3
    return 2
