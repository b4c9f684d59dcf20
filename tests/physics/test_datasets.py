"""Dataset cache: deterministic samples, reload, resume, corruption detection, CLI."""

import json

import jax
import numpy as np
import pytest

from jaxspec._cli import main
from jaxspec.physics import burgers, burgers_exact, darcy, datasets

SMALL = dict(resolution=64, solve_resolution=128, dt=1e-3)


def test_burgers_dataset_is_deterministic_and_correct(tmp_path):
    ds = datasets.make("burgers", 5, cache_dir=tmp_path, shard_size=2, progress=False,
                       storage_dtype="float64", **SMALL)
    assert ds["a"].shape == (5, 64) and ds["u"].shape == (5, 64) and len(ds) == 5
    assert ds.manifest["n"] == 5 and len(ds.manifest["shards"]) == 3
    assert ds.manifest["diagnostics"]["max_tail_fraction"] < 1e-6
    # outputs are point samples of the 128-point solution: check one against Cole-Hopf
    a_fine = jax.numpy.asarray(datasets.make("burgers", 5, cache_dir=tmp_path, shard_size=2,
                                             progress=False, storage_dtype="float64",
                                             resolution=128, solve_resolution=128,
                                             dt=1e-3)["a"][3])
    exact = burgers_exact(np.asarray(a_fine), 1.0, nu=0.1)
    np.testing.assert_allclose(ds["u"][3], exact[::2], rtol=0, atol=1e-10)
    np.testing.assert_allclose(ds["a"][3], np.asarray(a_fine)[::2], atol=1e-15)
    # a different shard size gives the same samples (per-sample keys)
    other = datasets.make("burgers", 5, cache_dir=tmp_path / "b", shard_size=5, progress=False,
                          storage_dtype="float64", **SMALL)
    np.testing.assert_array_equal(other["u"], ds["u"])
    np.testing.assert_allclose(burgers(jax.numpy.asarray(ds["a"][0]), nu=0.1, dt=1e-3),
                               ds["u"][0], atol=1e-3)  # 64-point re-solve: same flow


def test_reload_extend_and_corruption(tmp_path, capsys):
    ds = datasets.make("burgers", 4, cache_dir=tmp_path, shard_size=2, progress=False, **SMALL)
    assert ds["u"].dtype == np.float32
    again = datasets.make("burgers", 4, cache_dir=tmp_path, shard_size=2, progress=False, **SMALL)
    assert again.manifest["wall_time_s"] == ds.manifest["wall_time_s"]  # loaded, not rerun
    np.testing.assert_array_equal(again["u"], ds["u"])
    # corrupt one shard and delete another's checksum (a killed job): both regenerated
    shard = ds.path / "shard-00001.npz"
    shard.write_bytes(shard.read_bytes()[:-20] + b"0" * 20)
    with pytest.raises(OSError, match="shard-00001"):
        datasets.load(ds.path)
    (ds.path / "shard-00000.json").unlink()
    fixed = datasets.make("burgers", 4, cache_dir=tmp_path, shard_size=2, progress=False, **SMALL)
    assert "regenerating" in capsys.readouterr().err
    np.testing.assert_array_equal(fixed["u"], ds["u"])
    # growing n keeps the prefix and only adds samples
    more = datasets.make("burgers", 7, cache_dir=tmp_path, shard_size=2, progress=False, **SMALL)
    np.testing.assert_array_equal(more["u"][:4], ds["u"])
    assert more.manifest["n"] == 7
    loaded = datasets.load(more.path)
    np.testing.assert_array_equal(loaded["a"], more["a"])


def test_darcy_dataset_subsamples_the_fine_solve(tmp_path):
    ds = datasets.make("darcy", 2, resolution=9, refine=2, cache_dir=tmp_path, progress=False,
                       storage_dtype="float64")
    a, u = ds["a"], ds["u"]
    assert set(np.unique(a)) <= {3.0, 12.0} and u.shape == (2, 9, 9)
    assert np.all(u[:, 0, :] == 0) and np.all(u[:, :, -1] == 0) and np.all(u[:, 4, 4] > 0)
    # not equal to a coarse solve on the subsampled coefficient: the fine grid was used
    coarse = darcy(jax.numpy.asarray(a[0]))
    assert 1e-6 < np.max(np.abs(np.asarray(coarse) - u[0])) < 0.5 * np.max(u[0])


def test_bad_requests(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset"):
        datasets.make("mnist", 3, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="no parameter"):
        datasets.make("burgers", 3, cache_dir=tmp_path, viscosity=0.1)
    with pytest.raises(ValueError, match="`n`"):
        datasets.make("burgers", 0, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="nu"):
        datasets.make("burgers", 2, cache_dir=tmp_path, nu=-1.0, **SMALL)
    with pytest.raises(ValueError, match="under-resolves"):
        datasets.make("ks", 1, resolution=32, burn_in=0.0, t_final=5.0, num_snapshots=1,
                      cache_dir=tmp_path, progress=False)


def test_cli_data_make_and_info(tmp_path, capsys):
    args = ["data", "make", "burgers", "--n", "3", "--resolution", "32", "--cache",
            str(tmp_path), "--shard-size", "2", "--set", "solve_resolution=64", "--set",
            "dt=0.002"]
    assert main(args) == 0
    folder = next(tmp_path.iterdir())
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["params"]["solve_resolution"] == 64 and manifest["x64"] is True
    assert main(["data", "info", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "2 shard(s) verified" in out
    assert main(["data", "make", "burgers", "--n", "3", "--set", "bogus=1", "--cache",
                 str(tmp_path)]) == 2
