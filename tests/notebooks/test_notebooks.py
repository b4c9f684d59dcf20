"""Notebooks are executed (short mode) so they never rot; their printed figures are checked."""

import os
import runpy
from pathlib import Path

import numpy as np
import pytest

NB = Path(__file__).parents[2] / "notebooks"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_hessian_spectrum_notebook(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("JAXSPEC_QUICK", "1")
    monkeypatch.setenv("JAXSPEC_FIGURES", str(tmp_path))
    ns = runpy.run_path(str(NB / "hessian_spectrum.py"), run_name="__main__")
    assert (tmp_path / "hessian_training.png").exists()
    assert (tmp_path / "hessian_density_digits.png").exists()
    assert ns["err"] < 1e-10  # matrix-free top-20 vs dense eigh
    assert ns["w1"] < 2e-3
    lam = [float(r.eigenvalues[0]) for r in ns["records"]]
    assert lam[0] > 2 / ns["LR"] > min(lam)  # starts above 2/lr, drops below (catapult)
    assert os.path.exists(tmp_path)
    capsys.readouterr()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_quantum_wells_notebook(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("JAXSPEC_QUICK", "1")
    monkeypatch.setenv("JAXSPEC_FIGURES", str(tmp_path))
    ns = runpy.run_path(str(NB / "quantum_wells.py"), run_name="__main__")
    assert (tmp_path / "quantum_wells.png").stat().st_size > 10_000
    assert ns["worst_paper"] <= 1e-10
    assert np.max(ns["fw3"].relative_errors) <= 1e-9
    assert ns["overlaps"](ns["fw3"]) <= 1e-10
    assert np.max(ns["hyd"].relative_errors) <= 1e-6  # 1s and 2s, 10 steps
    assert ns["opt_errors"]["gauss-newton"][0] <= 1e-12
    for res in (ns["fw3"], ns["iw5"], ns["drum"], ns["hyd"]):
        lo, hi = res.bounds[:, 0], res.bounds[:, 1]
        assert np.all((lo <= res.exact) & (res.exact <= hi))
    capsys.readouterr()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_ssm_tutorial_notebook(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("JAXSPEC_QUICK", "1")
    monkeypatch.setenv("JAXSPEC_FIGURES", str(tmp_path))
    ns = runpy.run_path(str(NB / "ssm_tutorial.py"), run_name="__main__")
    assert (tmp_path / "ssm_filters_ptd.png").stat().st_size > 10_000
    assert max(ns["vec_err"][:8]) <= 1e-9
    assert max(ns["errors"]["PTD (float32-priced)"]) < 1e-2
    assert max(ns["errors"]["plain eig"]) > 1e3
    assert ns["scaled"][(-1, 1)] >= 0.95 and ns["scaled"][(0, 1)] <= 0.2
    assert ns["mode_gap"] <= 1e-5
    assert ns["nmse"] < 0.5
    capsys.readouterr()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_fno_tutorial_notebook(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("JAXSPEC_QUICK", "1")
    monkeypatch.setenv("JAXSPEC_FIGURES", str(tmp_path))
    monkeypatch.setenv("JAXSPEC_CACHE", str(tmp_path / "data"))
    ns = runpy.run_path(str(NB / "fno_tutorial.py"), run_name="__main__")
    assert (tmp_path / "fno_tutorial.png").stat().st_size > 10_000
    for r in ns["results"].values():
        assert r["l2_s"] < 0.3 and r["l2_2s"] < 0.35
    capsys.readouterr()


def test_every_notebook_script_has_a_paired_ipynb_in_sync():
    import jupytext

    scripts = sorted(NB.glob("*.py"))
    assert len(scripts) >= 4
    for py in scripts:
        nb = py.with_suffix(".ipynb")
        assert nb.exists(), f"{nb.name} missing: run `jupytext --sync {py.name}`"
        a = [c.source for c in jupytext.read(py).cells]
        b = [c.source for c in jupytext.read(nb).cells]
        assert a == b, f"{nb.name} is out of sync with {py.name}: `jupytext --sync {py.name}`"
