"""Batched rollouts (robopref.rollout.batched): the same episodes as one-by-one rollouts, faster."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from robopref.data import Dataset
from robopref.policies import DiffusionPolicy, Normalizer, PolicyShapes, load_policy, save_checkpoint
from robopref.rollout.batched import can_batch, record_episodes
from robopref.rollout.factory import make_env, make_scripted_policy
from robopref.rollout.record import record_episode
from tests.fakes import LINE_ENV_CFG, make_line_env
from tests.policies.conftest import tiny_config

STATE_ONLY = {**LINE_ENV_CFG, "image_size": 0}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> str:
    """An untrained tiny policy on LineEnv's state: random weights give varied, seed-dependent actions."""
    torch.manual_seed(0)
    norm = Normalizer.fit_arrays({"action": np.array([[-1.0], [1.0]]), "state": np.array([[-2.0, 0.0], [2.0, 1.0]])})
    model = DiffusionPolicy(tiny_config(image_keys=[]), PolicyShapes(action_dim=1, low_dim={"state": 2}, images={}), norm)
    return str(save_checkpoint(tmp_path_factory.mktemp("batched") / "tiny.ckpt", model))


def _same_episode(a, b) -> None:
    assert len(a) == len(b) and a.attrs == b.attrs
    np.testing.assert_allclose(a.actions, b.actions, rtol=0, atol=1e-5)  # the batched network rounds differently
    np.testing.assert_allclose(a.obs["state"], b.obs["state"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(a.states, b.states, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(a.dones, b.dones)
    assert sorted(a.infos) == sorted(b.infos)


def test_batched_episodes_equal_one_by_one_in_order(checkpoint):
    """Waves of 3 slots whose episodes end at different steps (horizons 5, 12, 8), 7 jobs with a repeated
    initial state under two policy seeds: each episode is the one-by-one episode of its job."""
    policy = load_policy(checkpoint, device="cpu")
    assert can_batch(policy)
    envs = [make_line_env(image_size=0, horizon=h) for h in (5, 12, 8)]
    jobs = [(10, None), (11, None), (12, None), (12, 7), (13, None), (10, 3), (14, None)]
    batched = list(record_episodes(envs, policy, jobs))
    assert len(batched) == len(jobs)
    for i, (env_seed, policy_seed) in enumerate(jobs):
        expected = record_episode(envs[i % 3], policy, seed=env_seed, policy_seed=policy_seed)
        _same_episode(batched[i], expected)
    assert [len(e) for e in batched[:3]] == [5, 12, 8]
    # the noise follows the job, not the slot: job 3 (seed 12, policy seed 7) differs from job 2 (seed 12)
    assert not np.allclose(batched[2].actions[:5], batched[3].actions[:5])


def test_max_steps_and_next_obs_reach_every_slot(checkpoint):
    policy = load_policy(checkpoint, device="cpu")
    envs = [make_line_env(image_size=0) for _ in range(2)]
    eps = list(record_episodes(envs, policy, [(1, None), (2, None), (3, None)], max_steps=4, store_next_obs=True))
    assert [len(e) for e in eps] == [4, 4, 4] and all(e.dones[-1] == 1 for e in eps)
    for e in eps:
        np.testing.assert_array_equal(e.next_obs["state"][:-1], e.obs["state"][1:])


def test_a_policy_that_cannot_batch_runs_one_by_one():
    """A scripted expert has no batched form: every episode is record_episode's, exactly."""
    env = make_env(STATE_ONLY)
    expert = make_scripted_policy(STATE_ONLY, env, noise=0.5, seed=0)
    assert not can_batch(expert)
    jobs = [(5, None), (6, 9)]
    got = list(record_episodes([env, make_env(STATE_ONLY)], expert, jobs))
    for ep, (s, ps) in zip(got, jobs):
        want = record_episode(env, expert, seed=s, policy_seed=ps)
        np.testing.assert_array_equal(ep.actions, want.actions)
        assert ep.attrs == want.attrs
    with pytest.raises(ValueError, match="at least one env"):
        list(record_episodes([], expert, jobs))


def test_batched_actor_refuses_no_slots(checkpoint):
    with pytest.raises(ValueError, match="slots=0"):
        load_policy(checkpoint, device="cpu").batched(0)


def test_noise_of_the_wrong_shape_is_refused(checkpoint):
    model = load_policy(checkpoint, device="cpu").model
    obs = {"state": torch.zeros(2, model.cfg.n_obs_steps, 2)}
    with pytest.raises(ValueError, match=r"noise has shape \(1, 8, 1\); expected \(2, 8, 1\)"):
        model.predict_action(obs, noise=torch.zeros(1, 8, 1))


def test_collect_batch_writes_the_one_by_one_dataset(checkpoint, tmp_path):
    """`robopref collect policy=<ckpt> batch=4`: the same episodes, in the same order, as batch=1."""
    from robopref.cli import main

    paths = {}
    for batch in (1, 4):
        out = tmp_path / f"b{batch}.hdf5"
        main(["collect", f"hydra.searchpath=[file://{_conf_dir()}]", "env=line", "env.image_size=0", f"policy={checkpoint}", "episodes=6",
              "videos=0", f"batch={batch}", f"output={out}", "seed=3", f"hydra.run.dir={tmp_path / f'run{batch}'}"])
        paths[batch] = out
    with Dataset(paths[1]) as one, Dataset(paths[4]) as four:
        assert one.demos == four.demos
        for d in one.demos:
            np.testing.assert_allclose(one.read(d, "actions"), four.read(d, "actions"), rtol=0, atol=1e-5)
            assert one.demo_attrs(d)["seed"] == four.demo_attrs(d)["seed"]


def _conf_dir() -> str:
    from pathlib import Path

    return str(Path(__file__).resolve().parents[1] / "conf")


def test_collect_refuses_batch_0_before_touching_the_output(checkpoint, tmp_path):
    from tests.test_cli import LINE, robopref

    out = tmp_path / "kept.hdf5"
    out.write_bytes(b"the user's file")
    res = robopref("collect", *LINE, f"policy={checkpoint}", "batch=0", f"output={out}", cwd=tmp_path)
    assert res.returncode != 0 and "batch=0: expected >= 1 episodes rolled out side by side" in res.stderr
    assert out.read_bytes() == b"the user's file"


def test_evaluate_batched_matches_workers_and_writes_whole_videos(checkpoint, tmp_path):
    """`robopref eval batch=3`: per-episode results of the one-by-one evaluation, and videos with the final frame."""
    from robopref.eval import evaluate
    from robopref.eval.policies import PolicySpec

    spec = PolicySpec(checkpoint, device="cpu")
    one = evaluate(LINE_ENV_CFG, spec, episodes=4, workers=1, seed=2, videos=1, out_dir=tmp_path / "one", progress=False)
    three = evaluate(LINE_ENV_CFG, spec, episodes=4, seed=2, videos=1, out_dir=tmp_path / "three", progress=False, batch=3)
    assert three.workers == 1
    for a, b in zip(one.episodes, three.episodes):
        assert (a.index, a.seed, a.steps, a.success, a.violation) == (b.index, b.seed, b.steps, b.success, b.violation)
        assert a.ret == pytest.approx(b.ret, abs=1e-4) and a.pref_return == pytest.approx(b.pref_return, abs=1e-4)
    import imageio.v3 as iio

    assert [len(iio.imread(e.video)) for e in (one.episodes[0], three.episodes[0])] == [13, 13]  # 12 steps + the last observation
    assert three.episodes[1].video is None
    with pytest.raises(ValueError, match="batch must be >= 1"):
        evaluate(LINE_ENV_CFG, spec, episodes=1, progress=False, batch=0)
