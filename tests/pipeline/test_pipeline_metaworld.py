"""``robopref pipeline experiment=metaworld_cross_high``: the loop on Meta-World reach-v3 with a preference."""

from __future__ import annotations

import json

from tests.test_cli import robopref

TINY = [
    "experiment.demos.unaligned=4", "experiment.demos.aligned=4", "++experiment.env_overrides.horizon=30",
    "experiment.rollout_env_overrides.image_size=16",
    'experiment.policy_args=["policy.down_dims=[8,16]","policy.diffusion_step_embed_dim=8","policy.horizon=8","policy.n_action_steps=4",'
    '"policy.num_inference_steps=2","batch_size=16","epochs=1","max_train_steps=2","eval_every=0","torch_threads=1","progress=false"]',
    "experiment.rollouts=4", "experiment.person.queries=3",
    'experiment.rewards={rrl:["reward=rrl","reward.epochs=3","reward.hidden=[8]","reward.ensemble=2","sources=[scripted]","eval_segments=8","eval_length=5"],'
    'rapl:["reward=rapl","reward.encoder.channels=[4,8,8,8]","reward.pretrain.steps=2","reward.pretrain.batch_size=4","reward.frames=4",'
    '"reward.pretrain_videos=2","reward.align.epochs=1","reward.plot_ot_plan=false","sources=[scripted]","eval_segments=8","eval_length=5"]}',
    'experiment.align.args=["pairs=4","segment_length=0","dpo.epochs=1","eval_workers=1"]',
    "experiment.eval_episodes=2", "experiment.report_frames=1", "progress=false",
]


def test_metaworld_experiment_records_only_the_rollouts_with_the_camera(tmp_path):
    run = tmp_path / "pipe"
    out = robopref("pipeline", "experiment=metaworld_cross_high", *TINY, f"hydra.run.dir={run}", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    from robopref.data import Dataset

    demos, rollouts = Dataset(run / "demos" / "demos.hdf5"), Dataset(run / "round_1" / "rollouts.hdf5")
    assert demos.obs_keys == ["state"] and rollouts.obs_keys == ["corner_image", "state"]  # RAPL reads the frames
    env = rollouts.env_args["robopref_env"]
    assert (env["task"], env["preference"], env["horizon"], env["camera"]) == ("reach-v3", "cross_high", 30, "corner")
    assert {"violation", "pref_score"} <= set(demos.info_keys)
    state = json.loads((run / "pipeline.json").read_text())
    assert "round_1/transfer" not in state["order"] and "round_1/reward_rapl" in state["order"]
    align = state["steps"]["round_1/align"]["outputs"]
    assert align["before"]["n_episodes"] == 2 and "violation" in align["after"]["metrics"]  # honours = 1 - violation rate
    assert "| pre-trained |" in (run / "report.md").read_text()
