"""Transparent huge pages for glibc's malloc, set by the command-line entry points.

XLA CPU allocates each compiled step's temporary buffer (100-500 MiB for the FNO benchmark
steps) afresh on every call; glibc serves allocations that large with a new `mmap`, so every
step first-touches, page-faults and zeroes the whole buffer in 4 KiB pages (26,000 faults per
step in 1D, 140,000 on the padded 85x85 grid; a quarter to a third of the step time on a 2-core
AMD EPYC). With the glibc tunable `glibc.malloc.hugetlb=1` (glibc >= 2.35) malloc marks its
mappings for transparent huge pages and the faults drop 30-50x. glibc reads tunables only at
process start, so an entry point that wants them restarts itself once with the variable set;
a library import never does.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Mapping

TUNABLE = "glibc.malloc.hugetlb"
OPT_OUT = "JAXSPEC_HUGE_PAGES"  # "0": never restart
_MARK = "JAXSPEC_MALLOC_RESTARTED"


def with_huge_pages(env: Mapping[str, str]) -> dict[str, str]:
    """A copy of `env` whose `GLIBC_TUNABLES` also sets `glibc.malloc.hugetlb=1`; a value the
    caller already chose for that tunable is kept, other tunables are kept in order."""
    out = dict(env)
    items = [t for t in out.get("GLIBC_TUNABLES", "").split(":") if t]
    if any(t.split("=", 1)[0] == TUNABLE for t in items):
        return out
    out["GLIBC_TUNABLES"] = ":".join([*items, f"{TUNABLE}=1"])
    return out


def supported(libc: tuple[str, str] | None = None, system: str | None = None) -> bool:
    """Whether the tunable exists here: Linux with glibc 2.35 or newer."""
    lib, version = libc if libc is not None else platform.libc_ver()
    if (system or sys.platform) != "linux" or lib != "glibc":
        return False
    try:
        major, minor = (int(p) for p in version.split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= (2, 35)


def restart_with_huge_pages() -> None:
    """Replace this process by the same command with huge pages for malloc, at most once.

    For `__main__` code only (it re-runs `sys.orig_argv`). Does nothing off glibc Linux, when
    the tunable is already set, after a restart, or when `JAXSPEC_HUGE_PAGES=0`.
    """
    if os.environ.get(OPT_OUT, "1") == "0" or os.environ.get(_MARK) or not supported():
        return
    env = with_huge_pages(os.environ)
    if env.get("GLIBC_TUNABLES") == os.environ.get("GLIBC_TUNABLES"):
        return
    env[_MARK] = "1"
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], env)
