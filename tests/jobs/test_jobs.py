"""Batch jobs: typed configs, run folders, kill-and-resume (SIGKILL, SIGTERM) for the SSM and
FNO jobs, 8 devices vs one, and two processes over loopback (jax.distributed, gloo)."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.flatten_util
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import jaxspec.ssm as S
from jaxspec import jobs

ROOT = Path(__file__).resolve().parents[2]
SSM_SET = ["steps=80", "n_train=200", "n_test=40", "checkpoint_every=20", "log_every=10",
           "test_max_len=60", "batch_size=8", "d_model=16"]
FNO_SET = ["n_train=16", "n_test=8", "resolution=64", "modes=8", "width=16", "epochs=40",
           "step_size=4", "batch_size=4", "checkpoint_every=2", "num_layers=2"]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """Subprocess environment: one CPU device, shared compilation and dataset caches."""
    base = tmp_path_factory.mktemp("jobs")
    e = {k: v for k, v in os.environ.items() if not k.startswith(("JAXSPEC_", "XLA_"))}
    e["XLA_FLAGS"] = "--xla_force_host_platform_device_count=1"
    e["JAXSPEC_COMPILATION_CACHE"] = str(base / "xla-cache")
    e["JAXSPEC_CACHE"] = str(base / "data")
    e["PYTHONPATH"] = str(ROOT)
    return e


def _cmd(pillar, run_dir, sets):
    args = [sys.executable, "-m", "jaxspec", pillar, "train", "--run-dir", str(run_dir),
            "--quiet"]
    for s in sets:
        args += ["--set", s]
    return args


def _run(pillar, run_dir, sets, env):
    out = subprocess.run(_cmd(pillar, run_dir, sets), env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _kill_after(pillar, run_dir, sets, env, step, sig):
    """Start a job, wait until checkpoint `step` exists, send `sig`; return the exit code."""
    log = Path(run_dir).parent / f"{Path(run_dir).name}-{int(sig)}.log"
    with open(log, "w") as f:
        proc = subprocess.Popen(_cmd(pillar, run_dir, sets), env=env, stdout=f, stderr=f)
        target = Path(run_dir) / "checkpoints" / str(step)
        t0 = time.time()
        while not target.exists():
            if proc.poll() is not None or time.time() - t0 > 300:
                proc.kill()
                proc.wait()
                raise AssertionError(f"job ended before checkpoint {step}: "
                                     f"{log.read_text()[-3000:]}")
            time.sleep(0.05)
        proc.send_signal(sig)
        proc.wait(timeout=120)
    return proc.returncode


def _final_step(run_dir):
    return max(int(p.name) for p in (Path(run_dir) / "checkpoints").iterdir() if
               p.name.isdigit())


def test_ssm_job_kill_and_resume_equals_uninterrupted(tmp_path, env):
    ref = _run("ssm", tmp_path / "ref", SSM_SET, env)
    assert ref["test"]["accuracy"] > 0.5
    rc = _kill_after("ssm", tmp_path / "killed", SSM_SET, env, 40, signal.SIGKILL)
    assert rc == -signal.SIGKILL
    assert not (tmp_path / "killed" / "result.json").exists()
    resumed = _run("ssm", tmp_path / "killed", SSM_SET, env)
    assert resumed["resumed_from"] >= 40
    assert resumed["params_sha256"] == ref["params_sha256"]
    assert resumed["test"] == ref["test"]
    lines = (tmp_path / "killed" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == list(range(10, 81, 10))


@pytest.mark.slow
def test_ssm_job_sigterm_saves_and_resumes(tmp_path, env):
    ref = _run("ssm", tmp_path / "ref", SSM_SET, env)
    rc = _kill_after("ssm", tmp_path / "term", SSM_SET, env, 20, signal.SIGTERM)
    assert rc == 0 and _final_step(tmp_path / "term") >= 20
    again = _run("ssm", tmp_path / "term", SSM_SET, env)
    assert again["params_sha256"] == ref["params_sha256"]


@pytest.mark.slow  # the resume logic is the same Checkpointer; fno.fit's own resume test runs
def test_fno_job_kill_and_resume_equals_uninterrupted(tmp_path, env):
    ref = _run("fno", tmp_path / "ref", FNO_SET, env)
    assert ref["test_relative_l2"] < 1.0
    rc = _kill_after("fno", tmp_path / "killed", FNO_SET, env, 4, signal.SIGKILL)
    assert rc == -signal.SIGKILL
    resumed = _run("fno", tmp_path / "killed", FNO_SET, env)
    assert resumed["resumed_from"] >= 4
    assert resumed["params_sha256"] == ref["params_sha256"]


def test_two_processes_over_loopback_equal_two_devices(tmp_path, env):
    sets = [*SSM_SET[1:], "steps=30", "data_parallel=true"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = []
    for pid in (0, 1):
        e = dict(env, JAXSPEC_COORDINATOR=f"127.0.0.1:{port}", JAXSPEC_NUM_PROCESSES="2",
                 JAXSPEC_PROCESS_ID=str(pid))
        procs.append(subprocess.Popen(_cmd("ssm", tmp_path / "mp", sets), env=e,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True))
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-3000:]
    res = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
    assert res[0]["params_sha256"] == res[1]["params_sha256"]
    single = _run("ssm", tmp_path / "sp", sets,
                  dict(env, XLA_FLAGS="--xla_force_host_platform_device_count=2"))
    assert single["params_sha256"] == res[0]["params_sha256"]
    assert json.loads((tmp_path / "mp" / "result.json").read_text())["params_sha256"] == \
        res[0]["params_sha256"]


def test_eight_devices_equal_one(getkey):
    assert jax.device_count() == 8
    train = S.parity(64, max_len=12, seed=0)

    def model():
        return S.SequenceModel(2, vocab_size=3, d_model=8, num_layers=1, state_size=4,
                               layer="s5", pooling=None, key=jr.key(0))

    kw = dict(steps=6, batch_size=16, learning_rate=1e-2, key=jr.key(1), progress=False)
    one = S.fit(model(), train, **kw)
    eight = S.fit(model(), train, mesh=jobs.data_mesh(8), **kw)
    p1 = jax.tree_util.tree_leaves(one.model)
    p8 = jax.tree_util.tree_leaves(eight.model)
    for a, b in zip(p1, p8, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-10, atol=1e-12)
    assert len(eight.model.head.weight.sharding.device_set) == 8
    with pytest.raises(ValueError, match="multiple of the mesh"):
        S.fit(model(), train, mesh=jobs.data_mesh(8), **{**kw, "batch_size": 12})


def test_fno_eight_devices_equal_one():
    from jaxspec import fno

    x = jr.normal(jr.key(3), (16, 1, 32))
    y = jnp.cumsum(x, axis=-1) / 8.0
    tc = fno.TrainConfig(epochs=2, batch_size=8, step_size=1)

    def model():
        return fno.FNO(1, 1, 6, 8, ndim=1, num_layers=2, key=jr.key(0))

    one = fno.fit(model(), (x, y), None, tc, progress=False)
    eight = fno.fit(model(), (x, y), None, tc, progress=False, mesh=jobs.data_mesh(8))
    for a, b in zip(jax.tree_util.tree_leaves(one.operator),
                    jax.tree_util.tree_leaves(eight.operator), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="multiple of the mesh"):
        fno.fit(model(), (x, y), None, fno.TrainConfig(epochs=1, batch_size=6), progress=False,
                mesh=jobs.data_mesh(8))


def test_config_errors_and_presets(tmp_path):
    cfg = jobs.load_config(jobs.SSMJob, ROOT / "scripts/configs/ssm_parity.toml",
                           ["steps=7", "eigenvalue_range=[0, 1]"])
    assert cfg.steps == 7 and cfg.eigenvalue_range == (0.0, 1.0) and cfg.task == "parity"
    for name in ("ssm_digits.toml",):
        jobs.load_config(jobs.SSMJob, ROOT / "scripts/configs" / name)
    for name in ("fno_burgers.toml", "fno_darcy.toml"):
        jobs.load_config(jobs.FNOJob, ROOT / "scripts/configs" / name)
    fcfg = jobs.load_config(jobs.FNOJob, None, ["factorization=tucker", "compute_dtype=bfloat16"])
    assert fcfg.factorization == "tucker" and fcfg.compute_dtype == "bfloat16"
    with pytest.raises(ValueError, match="`factorization` must be"):
        jobs.load_config(jobs.FNOJob, None, ["factorization=tt"])
    with pytest.raises(ValueError, match="unknown config key `stepz`"):
        jobs.load_config(jobs.SSMJob, None, ["stepz=3"])
    with pytest.raises(TypeError, match="`steps` expects an integer"):
        jobs.load_config(jobs.SSMJob, None, ["steps=1.5"])
    with pytest.raises(TypeError, match="`bidirectional` expects true/false"):
        jobs.load_config(jobs.SSMJob, None, ["bidirectional=3"])
    with pytest.raises(ValueError, match="`task` must be one of"):
        jobs.load_config(jobs.SSMJob, None, ["task=sorting"])
    bad = tmp_path / "bad.toml"
    bad.write_text('layer = "s5"\nwidth = 3\n')
    with pytest.raises(ValueError, match=r"unknown config key `width`.*bad\.toml"):
        jobs.load_config(jobs.SSMJob, bad)


def test_run_dir_with_other_config_refuses(tmp_path):
    a = jobs.load_config(jobs.SSMJob, None, ["steps=5"])
    b = jobs.load_config(jobs.SSMJob, None, ["steps=6"])
    jobs.prepare_run_dir(tmp_path / "r", a)
    before = (tmp_path / "r" / "config.json").read_text()
    with pytest.raises(ValueError, match=r"different config \(steps: 5 there vs 6 now\)"):
        jobs.prepare_run_dir(tmp_path / "r", b)
    assert (tmp_path / "r" / "config.json").read_text() == before


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    train = S.parity(32, max_len=8, seed=0)

    def model():
        return S.SequenceModel(2, vocab_size=3, d_model=4, num_layers=1, state_size=2,
                               pooling=None, key=jr.key(0))

    kw = dict(steps=4, batch_size=4, key=jr.key(1), progress=False, checkpoint_every=2,
              run_dir=tmp_path)
    S.fit(model(), train, stop_after=2, **kw)
    step_dir = tmp_path / "checkpoints" / "2"
    for f in step_dir.rglob("*"):
        if f.is_file() and f.stat().st_size > 0 and "meta" not in str(f):
            f.write_bytes(b"\0" * 7)
    with pytest.raises(ValueError, match="cannot be read"):
        S.fit(model(), train, **kw)
    assert step_dir.exists()  # nothing overwritten or deleted


def test_resumed_fit_counts_time_since_the_run_began(tmp_path):
    train = S.parity(32, max_len=8, seed=0)
    model = S.SequenceModel(2, vocab_size=3, d_model=4, num_layers=1, state_size=2,
                            pooling=None, key=jr.key(0))
    kw = dict(steps=4, batch_size=4, key=jr.key(1), progress=False, checkpoint_every=2,
              log_every=2, run_dir=tmp_path)
    first = S.fit(model, train, stop_after=2, **kw)
    rest = S.fit(model, train, **kw)
    assert rest.start_step == 2 and [r["step"] for r in rest.history] == [2, 4]
    t_first, t_total = first.history[-1]["time_s"], rest.history[-1]["time_s"]
    assert rest.history[0]["time_s"] == t_first
    assert t_total > t_first > 0
    assert 0 < rest.seconds < t_total  # `seconds` is this call's only


def test_fno_job_that_stops_early_writes_no_result(tmp_path):
    cfg = jobs.load_config(jobs.FNOJob, None, [*FNO_SET, "epochs=3", f"cache={tmp_path}/c"])
    part = jobs.run_fno(cfg, tmp_path / "r", progress=False, stop_after=2)
    assert part == {"stopped": "stop_after", "epoch": 2}
    assert not (tmp_path / "r" / "result.json").exists()
    done = jobs.run_fno(cfg, tmp_path / "r", progress=False)
    assert done["resumed_from"] == 2 and done["final"]["epoch"] == 3
    assert json.loads((tmp_path / "r" / "result.json").read_text())["final"]["epoch"] == 3


def test_cli_help_explains_jobs(capsys):
    from jaxspec._cli import main

    for argv in (["ssm", "train", "--help"], ["fno", "train", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
        assert "--run-dir" in capsys.readouterr().out
    assert main(["ssm", "train", "--set", "nope=1"]) == 2
    assert "unknown config key" in capsys.readouterr().err


@pytest.mark.slow
def test_analysis_jobs_against_references(tmp_path):
    res = jobs.run_pinn(jobs.load_config(jobs.PinnJob, None, ["problem=infinite_well",
                                                              "states=2", "max_steps=10"]),
                        tmp_path / "pinn", progress=False)
    assert max(res["relative_errors"]) <= 1e-10
    for (lo, hi), e in zip(res["bounds"], res["exact"], strict=True):
        assert lo <= e <= hi
    assert (tmp_path / "pinn" / "states.png").exists()

    cfg = jobs.load_config(jobs.HessianJob, None, ["hidden=[4]", "train_steps=30", "k=3",
                                                   "num_steps=30", "trace_probes=20"])
    out = jobs.run_hessian(cfg, tmp_path / "hess", progress=False)
    from sklearn.datasets import load_digits

    from jaxspec.tour._hessian import init_mlp, loss_fn, train

    d = load_digits()
    data = (jax.numpy.asarray(d.data / 16.0), jax.numpy.asarray(d.target))
    params = train(init_mlp(jax.random.key(0), [64, 4, 10]), data, 30, lr=1e-2)
    flat, unravel = jax.flatten_util.ravel_pytree(params)
    dense = np.linalg.eigvalsh(np.asarray(jax.hessian(lambda w: loss_fn(unravel(w), data))(
        flat)))[::-1]
    np.testing.assert_allclose(out["top_eigenvalues"], dense[:3], rtol=1e-8)
    assert abs(out["trace"] - dense.sum()) <= 4 * out["trace_stderr"] + 1e-9
