"""The parallel rollout runner: workers agree with one process, replay, reports, the stage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from robopref.data import DatasetWriter
from robopref.eval import PolicySpec, evaluate, markdown, write_json
from robopref.rollout.factory import env_args_of, make_env, make_scripted_policy
from robopref.rollout.record import record_episode
from tests.fakes import LINE_ENV_CFG

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _importable_tests(monkeypatch):
    # spawned workers import the test env (tests.fakes) by name
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))


def test_two_workers_agree_with_one_process(tmp_path):
    spec = PolicySpec("expert", noise=0.5)
    one = evaluate(LINE_ENV_CFG, spec, episodes=5, workers=1, seed=3, videos=0, progress=False)
    two = evaluate(LINE_ENV_CFG, spec, episodes=5, workers=2, seed=3, videos=2, out_dir=tmp_path, progress=False)
    assert two.workers == 2 and [e.index for e in two.episodes] == list(range(5))
    assert [e.seed for e in one.episodes] == [e.seed for e in two.episodes]
    assert [e.ret for e in one.episodes] == [e.ret for e in two.episodes]
    assert [e.pref_return for e in one.episodes] == [e.pref_return for e in two.episodes]
    assert len({round(e.ret, 6) for e in one.episodes}) > 1  # noisy expert: episodes really differ
    assert [Path(v).name for v in two.videos] == ["episode_000.mp4", "episode_001.mp4"]
    assert all(Path(v).stat().st_size > 1000 for v in two.videos)


def test_metrics_and_reports(tmp_path):
    res = evaluate(LINE_ENV_CFG, "random", episodes=4, workers=1, seed=0, videos=0, progress=False)
    assert set(res.metrics) == {"success", "return", "pref_return", "violation", "steps"}
    assert res.metrics["return"].mean == pytest.approx(np.mean([e.ret for e in res.episodes]))
    d = json.loads(write_json(res, tmp_path / "eval.json").read_text())
    assert d["n_episodes"] == 4 and len(d["episodes"]) == 4 and d["metrics"]["success"]["method"] == "wilson"
    md = markdown(res)
    assert "| success rate |" in md and md.count("\n| ") >= 2 + 4 + 5


def test_replay_policy_reproduces_recorded_returns(tmp_path):
    env = make_env(LINE_ENV_CFG)
    path = tmp_path / "demos.hdf5"
    recorded = []
    with DatasetWriter(path, env_args=env_args_of(env, LINE_ENV_CFG), mode="w") as w:
        for i in range(3):
            ep = record_episode(env, make_scripted_policy(LINE_ENV_CFG, env, noise=0.7, seed=i), seed=10 + i)
            recorded.append(ep.total_reward)
            w.add_episode(ep)
    res = evaluate(LINE_ENV_CFG, PolicySpec("replay", dataset=str(path)), episodes=3, workers=1, videos=0, progress=False)
    assert [e.ret for e in res.episodes] == pytest.approx(recorded, abs=1e-9)


def test_bad_policy_specs_fail_early_with_the_setting_named(tmp_path):
    with pytest.raises(ValueError, match="policy='nope.ckpt' is not expert, random, replay or an existing checkpoint"):
        evaluate(LINE_ENV_CFG, "nope.ckpt", episodes=1, progress=False)
    with pytest.raises(ValueError, match="policy=replay needs dataset"):
        evaluate(LINE_ENV_CFG, "replay", episodes=1, progress=False)


def test_eval_stage_writes_json_markdown_and_videos(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), HYDRA_FULL_ERROR="0")
    args = ["eval", f"hydra.searchpath=[file://{ROOT}/tests/conf]", "env=line", "episodes=3", "workers=2", "videos=1", "noise=0.3"]
    out = subprocess.run([sys.executable, "-m", "robopref.cli", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    run = next((tmp_path / "outputs" / "eval").iterdir())
    result = json.loads((run / "eval.json").read_text())
    assert result["n_episodes"] == 3 and result["workers"] == 2 and result["policy"] == "expert"
    assert "| success rate |" in (run / "eval.md").read_text()
    assert (run / "videos" / "episode_000.mp4").exists()
    assert out.stdout.strip().splitlines()[-1] == f"video: {run / 'videos' / 'episode_000.mp4'}"


def test_eval_stage_replays_a_collected_dataset(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), HYDRA_FULL_ERROR="0")
    line = [f"hydra.searchpath=[file://{ROOT}/tests/conf]", "env=line"]

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "robopref.cli", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)

    data = tmp_path / "demos.hdf5"
    assert cli("collect", *line, "episodes=2", "noise=0.5", "videos=0", f"output={data}").returncode == 0
    out = cli("eval", *line, "policy=replay", f"dataset={data}", "episodes=2", "workers=1", "videos=0")
    assert out.returncode == 0, out.stderr
    result = json.loads(next((tmp_path / "outputs" / "eval").iterdir()).joinpath("eval.json").read_text())
    from robopref.data import Dataset

    ds = Dataset(data)
    assert result["policy"] == "replay"
    assert [e["ret"] for e in result["episodes"]] == pytest.approx([float(ds.read(d, "rewards").sum()) for d in ds.demos])


def test_checkpoint_policy_is_loaded_and_rolled_out(tmp_path):
    import torch

    from robopref.policies import DiffusionPolicy, Normalizer, PolicyShapes, save_checkpoint
    from tests.policies.conftest import tiny_config

    torch.manual_seed(0)
    norm = Normalizer.fit_arrays({"action": np.array([[-1.0], [1.0]]), "state": np.array([[-2.0, 0.0], [2.0, 1.0]])})
    model = DiffusionPolicy(tiny_config(image_keys=[]), PolicyShapes(action_dim=1, low_dim={"state": 2}, images={}), norm)
    path = save_checkpoint(tmp_path / "tiny.ckpt", model)
    res = evaluate(LINE_ENV_CFG, PolicySpec(str(path), device="cpu"), episodes=2, workers=1, videos=0, progress=False)
    assert res.policy == str(path) and [e.steps for e in res.episodes] == [12, 12]
    assert all(np.isfinite(e.ret) for e in res.episodes)


def test_checkpoint_runs_with_the_requested_action_steps(tmp_path):
    """``n_action_steps`` (eval's key) reaches the loaded policy; it is refused for scripted policies."""
    import torch

    from robopref.eval.policies import build_policy
    from robopref.policies import DiffusionPolicy, Normalizer, PolicyShapes, save_checkpoint
    from tests.policies.conftest import tiny_config

    torch.manual_seed(0)
    norm = Normalizer.fit_arrays({"action": np.array([[-1.0], [1.0]]), "state": np.array([[-2.0, 0.0], [2.0, 1.0]])})
    model = DiffusionPolicy(tiny_config(image_keys=[]), PolicyShapes(action_dim=1, low_dim={"state": 2}, images={}), norm)
    path = str(save_checkpoint(tmp_path / "tiny.ckpt", model))
    default = build_policy(PolicySpec(path, device="cpu"), LINE_ENV_CFG, None)
    one = build_policy(PolicySpec(path, device="cpu", n_action_steps=1), LINE_ENV_CFG, None)
    assert one.n_action_steps == 1 and default.n_action_steps == model.cfg.n_action_steps != 1
    res = evaluate(LINE_ENV_CFG, PolicySpec(path, device="cpu", n_action_steps=1), episodes=1, workers=1, videos=0, progress=False)
    assert [e.steps for e in res.episodes] == [12]
    with pytest.raises(ValueError, match="n_action_steps=2 applies to a policy checkpoint, not to policy=expert"):
        evaluate(LINE_ENV_CFG, PolicySpec("expert", n_action_steps=2), episodes=1, progress=False)
    with pytest.raises(ValueError, match="n_action_steps=0: expected"):
        PolicySpec(path, n_action_steps=0).check()


def test_a_checkpoint_in_an_env_of_other_shapes_is_refused_with_both_named():
    """Evaluating a policy without the env overrides its data was collected with (another
    embodiment, more blocks) names the sizes it expects and finds, instead of a tensor error."""
    from types import SimpleNamespace

    import gymnasium as gym

    from robopref.eval.policies import check_env_fits
    from robopref.policies.config import PolicyShapes

    def env(state: int, action: int) -> SimpleNamespace:
        return SimpleNamespace(observation_space=gym.spaces.Dict({"state": gym.spaces.Box(-1, 1, (state,))}),
                               action_space=gym.spaces.Box(-1, 1, (action,)))

    shapes = PolicyShapes(action_dim=3, low_dim={"state": 8}, images={})
    check_env_fits("best.ckpt", shapes, env(8, 3))
    with pytest.raises(ValueError, match=r"policy=best.ckpt: it was trained for action size 3, obs state size 8, but this env has "
                                         r"action size 2, obs state size 14 \(pass the env the training data was collected in"):
        check_env_fits("best.ckpt", shapes, env(14, 2))
    with pytest.raises(ValueError, match=r"it lacks observation key\(s\) \['robot'\]"):
        check_env_fits("best.ckpt", PolicyShapes(action_dim=3, low_dim={"state": 8, "robot": 4}, images={}), env(8, 3))
    camera = SimpleNamespace(observation_space=gym.spaces.Dict({"top_image": gym.spaces.Box(0, 255, (64, 64, 3), dtype="uint8")}),
                             action_space=gym.spaces.Box(-1, 1, (3,)))
    with pytest.raises(ValueError, match=r"obs top_image shape \(96, 96, 3\), but this env has obs top_image shape \(64, 64, 3\) "
                                         r".*; for the camera size alone, env.image_size=96\)"):
        check_env_fits("imported.ckpt", PolicyShapes(action_dim=3, low_dim={}, images={"top_image": (96, 96, 3)}), camera)


def test_inference_dtype_is_for_checkpoints_only():
    from robopref.eval.policies import PolicySpec

    with pytest.raises(ValueError, match=r"inference_dtype=bfloat16: expected one of \['float32', 'bfloat16'\], for a policy checkpoint \(policy=expert\)"):
        PolicySpec("expert", inference_dtype="bfloat16").check()
