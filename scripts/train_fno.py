"""Thin entry point: `python scripts/train_fno.py [--config F] [--set K=V ...] [--run-dir D]`
is `jaxspec fno train ...` (see `jaxspec fno train --help`; the job is `jaxspec.jobs.run_fno`)."""

import sys

from jaxspec._cli import main
from jaxspec.jobs import restart_with_huge_pages

if __name__ == "__main__":
    restart_with_huge_pages()  # before any large allocation; see jaxspec.jobs
    raise SystemExit(main(["fno", "train", *sys.argv[1:]]))
