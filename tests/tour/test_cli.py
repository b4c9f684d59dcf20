import pytest

from jaxspec._cli import main
from jaxspec.tour import SECTIONS


def test_tour_quick_writes_report_and_checks_figures(tmp_path, capsys):
    rows = None
    from jaxspec.tour import run_tour

    rows = run_tour(tmp_path, quick=True)
    (folder,) = list(tmp_path.iterdir())
    assert (folder / "report.md").exists()
    assert (folder / "linalg_density.png").stat().st_size > 10_000
    by = {r.figure.split(",")[0]: r for r in rows}
    assert by["lambda_min"].error < 1e-9 and by["lambda_max"].error < 1e-12
    w1 = next(r for r in rows if r.figure.startswith("SLQ density"))
    assert w1.value <= 2e-3
    top5 = next(r for r in rows if r.figure.startswith("top-5 Hessian"))
    assert top5.value <= 1e-10
    assert next(r for r in rows if r.figure.startswith("lambda_max (sharp")).error <= 1e-10
    assert (folder / "hessian_density.png").exists()
    burg = next(r for r in rows if r.figure.startswith("Burgers"))
    assert burg.value <= 1e-11
    assert next(r for r in rows if r.figure.startswith("d loss / d nu")).error <= 1e-6
    assert next(r for r in rows if r.figure.startswith("Taylor-Green")).error <= 1e-13
    assert next(r for r in rows if r.figure.startswith("Darcy order")).error <= 0.02
    assert next(r for r in rows if r.figure.startswith("GRF power")).error <= 0.05
    assert (folder / "physics.png").stat().st_size > 10_000
    fno_rows = [r for r in rows if r.section == "fno"]
    assert fno_rows[0].value < 0.05 and fno_rows[1].value < 0.1
    assert (folder / "fno_burgers.png").exists()
    pinn_rows = [r for r in rows if r.section == "pinn"]
    assert len(pinn_rows) == 6 and all(r.error <= 1e-10 for r in pinn_rows)
    assert all("certified" in r.note for r in pinn_rows)
    assert (folder / "pinn_wells.png").stat().st_size > 10_000
    ssm_rows = {r.figure.split(":")[0].split(",")[0]: r for r in rows if r.section == "ssm"}
    assert ssm_rows["Hankel filters L=1024"].error <= 1e-13
    neg = next(r for r in rows if r.figure.startswith("parity, eigenvalues in [-1, 1]"))
    pos = next(r for r in rows if r.figure.startswith("parity, eigenvalues in [0, 1]"))
    assert neg.value >= 0.95 and pos.value <= 0.2
    assert next(r for r in rows if r.figure.startswith("STU on an LDS")).value < 0.5
    assert (folder / "ssm_lds.png").stat().st_size > 10_000
    assert "report:" in capsys.readouterr().out


def test_cli_help_and_errors(capsys):
    assert main([]) == 0
    assert "tour" in capsys.readouterr().out
    assert main(["tour", "--list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in SECTIONS)
    assert main(["tour", "--sections", "nope"]) == 2
    assert "unknown section" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["tour", "--help"])
