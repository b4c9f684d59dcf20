"""Thin entry point: `python scripts/train_ssm.py [--config F] [--set K=V ...] [--run-dir D]`
is `jaxspec ssm train ...` (see `jaxspec ssm train --help`; the job is `jaxspec.jobs.run_ssm`)."""

import sys

from jaxspec._cli import main
from jaxspec.jobs import restart_with_huge_pages

if __name__ == "__main__":
    restart_with_huge_pages()  # before any large allocation; see jaxspec.jobs
    raise SystemExit(main(["ssm", "train", *sys.argv[1:]]))
