"""The `jaxspec` command line: `jaxspec tour` (and, as pillars land, their batch jobs)."""

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
    return p


def main(argv: list[str] | None = None) -> int:
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
    return 2
