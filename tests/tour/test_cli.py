import pytest

from jaxspec._cli import main
from jaxspec.tour import SECTIONS


def _check_linalg(rows, folder):
    assert (folder / "linalg_density.png").stat().st_size > 10_000
    by = {r.figure.split(",")[0]: r for r in rows}
    assert by["lambda_min"].error < 1e-9 and by["lambda_max"].error < 1e-12
    w1 = next(r for r in rows if r.figure.startswith("SLQ density"))
    assert w1.value <= 2e-3


def _check_hessian(rows, folder):
    top5 = next(r for r in rows if r.figure.startswith("top-5 Hessian"))
    assert top5.value <= 1e-10
    assert next(r for r in rows if r.figure.startswith("lambda_max (sharp")).error <= 1e-10
    assert (folder / "hessian_density.png").exists()


def _check_physics(rows, folder):
    burg = next(r for r in rows if r.figure.startswith("Burgers"))
    assert burg.value <= 1e-11
    assert next(r for r in rows if r.figure.startswith("d loss / d nu")).error <= 1e-6
    assert next(r for r in rows if r.figure.startswith("Taylor-Green")).error <= 1e-13
    assert next(r for r in rows if r.figure.startswith("Darcy order")).error <= 0.02
    assert next(r for r in rows if r.figure.startswith("GRF power")).error <= 0.05
    assert (folder / "physics.png").stat().st_size > 10_000


def _check_fno(rows, folder):
    assert rows[0].value < 0.05 and rows[1].value < 0.1
    assert (folder / "fno_burgers.png").exists()


def _check_pinn(rows, folder):
    assert len(rows) == 6 and all(r.error <= 1e-10 for r in rows)
    assert all("certified" in r.note for r in rows)
    assert (folder / "pinn_wells.png").stat().st_size > 10_000


def _check_ssm(rows, folder):
    by = {r.figure.split(":")[0].split(",")[0]: r for r in rows}
    assert by["Hankel filters L=1024"].error <= 1e-13
    neg = next(r for r in rows if r.figure.startswith("parity, eigenvalues in [-1, 1]"))
    pos = next(r for r in rows if r.figure.startswith("parity, eigenvalues in [0, 1]"))
    assert neg.value >= 0.95 and pos.value <= 0.2
    assert next(r for r in rows if r.figure.startswith("STU on an LDS")).value < 0.5
    assert (folder / "ssm_lds.png").stat().st_size > 10_000


CHECKS = {"linalg": _check_linalg, "hessian": _check_hessian, "physics": _check_physics,
          "fno": _check_fno, "pinn": _check_pinn, "ssm": _check_ssm}


def test_every_section_is_checked():
    assert set(CHECKS) == set(SECTIONS)


@pytest.mark.parametrize("section", list(CHECKS))
def test_tour_section_quick_writes_report_and_checks_figures(section, tmp_path, capsys):
    """Each section separately (so the test runner spreads them over its workers); `make demo`
    runs them all in one process."""
    from jaxspec.tour import run_tour

    rows = run_tour(tmp_path, sections=[section], quick=True)
    (folder,) = list(tmp_path.iterdir())
    assert (folder / "report.md").exists()
    assert rows and all(r.section == section for r in rows)
    CHECKS[section](rows, folder)
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
