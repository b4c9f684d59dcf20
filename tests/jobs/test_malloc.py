"""`restart_with_huge_pages`: the tunable merge, the platform check, and one real restart."""

import os
import subprocess
import sys

import pytest

from jaxspec._core._malloc import OPT_OUT, TUNABLE, supported, with_huge_pages


def test_merge_keeps_other_tunables_and_the_callers_choice():
    assert with_huge_pages({})["GLIBC_TUNABLES"] == f"{TUNABLE}=1"
    env = with_huge_pages({"GLIBC_TUNABLES": "glibc.malloc.arena_max=2", "X": "y"})
    assert env == {"GLIBC_TUNABLES": f"glibc.malloc.arena_max=2:{TUNABLE}=1", "X": "y"}
    chosen = {"GLIBC_TUNABLES": f"{TUNABLE}=0:glibc.malloc.arena_max=2"}
    assert with_huge_pages(chosen) == chosen
    assert with_huge_pages({"GLIBC_TUNABLES": ""})["GLIBC_TUNABLES"] == f"{TUNABLE}=1"


def test_supported_only_on_recent_glibc_linux():
    assert supported(("glibc", "2.35"), "linux")
    assert supported(("glibc", "2.36"), "linux")
    assert supported(("glibc", "3.0"), "linux")
    assert not supported(("glibc", "2.34"), "linux")
    assert not supported(("glibc", "2.35"), "darwin")
    assert not supported(("musl", "1.2"), "linux")
    assert not supported(("", ""), "linux")


CODE = ("import os; from jaxspec._core._malloc import restart_with_huge_pages; "
        "print('run', os.environ.get('GLIBC_TUNABLES'), flush=True); restart_with_huge_pages()")


@pytest.mark.parametrize("opt_out", [False, True])
def test_restart_runs_the_same_command_once_with_the_tunable(opt_out):
    env = {k: v for k, v in os.environ.items()
           if k not in ("GLIBC_TUNABLES", "JAXSPEC_MALLOC_RESTARTED", OPT_OUT)}
    if opt_out:
        env[OPT_OUT] = "0"
    out = subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True,
                         timeout=120, check=True).stdout.split("\n")
    runs = [line for line in out if line.startswith("run")]
    if supported() and not opt_out:  # first run without, the restarted one with the tunable
        assert runs == ["run None", f"run {TUNABLE}=1"]
    else:
        assert runs == ["run None"]
