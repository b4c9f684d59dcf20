"""Notebooks are executed (short mode) so they never rot; their printed figures are checked."""

import os
import runpy
from pathlib import Path

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
