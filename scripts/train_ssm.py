"""Thin entry point: `python scripts/train_ssm.py [--config F] [--set K=V ...] [--run-dir D]`
is `jaxspec ssm train ...` (see `jaxspec ssm train --help`; the job is `jaxspec.jobs.run_ssm`)."""

import sys

from jaxspec._cli import main

if __name__ == "__main__":
    raise SystemExit(main(["ssm", "train", *sys.argv[1:]]))
