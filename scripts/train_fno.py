"""Thin entry point: `python scripts/train_fno.py [--config F] [--set K=V ...] [--run-dir D]`
is `jaxspec fno train ...` (see `jaxspec fno train --help`; the job is `jaxspec.jobs.run_fno`)."""

import sys

from jaxspec._cli import main

if __name__ == "__main__":
    raise SystemExit(main(["fno", "train", *sys.argv[1:]]))
