"""``robopref pipeline``: a tiny experiment end to end, its report, and resuming after a kill."""

from __future__ import annotations

import json

import pytest
from omegaconf import OmegaConf

from robopref.pipeline.experiment import ExperimentSpec
from robopref.pipeline.runner import PipelineRunner
from robopref.pipeline.state import PipelineState
from tests.test_cli import robopref

TINY = [
    "experiment.demos.unaligned=6", "experiment.demos.aligned=3",
    "++experiment.env_overrides.image_size=16",
    'experiment.policy_args=["policy.down_dims=[8,16]","policy.diffusion_step_embed_dim=8","policy.horizon=8","policy.n_action_steps=4",'
    '"policy.num_inference_steps=2","batch_size=16","epochs=1","max_train_steps=2","eval_every=0","torch_threads=1","progress=false"]',
    "experiment.rollouts=4", "experiment.person.queries=3", "experiment.person.demo_queries=2",
    'experiment.rewards={rrl:["reward=rrl","reward.epochs=3","reward.hidden=[8]","reward.ensemble=2","sources=[scripted]","eval_segments=8","eval_length=5"],'
    'rrl_transfer:["reward=rrl","reward.epochs=3","reward.hidden=[8]","reward.ensemble=2","eval_segments=8","eval_length=5"],'
    'rapl:["reward=rapl","reward.encoder.channels=[4,8,8,8]","reward.pretrain.steps=2","reward.pretrain.batch_size=4","reward.frames=4",'
    '"reward.pretrain_videos=2","reward.align.epochs=1","reward.plot_ot_plan=false","sources=[scripted]","eval_segments=8","eval_length=5"]}',
    "experiment.transfer.episodes=6", "experiment.transfer.source_labels=6", "experiment.transfer.pairs=6",
    'experiment.align.args=["pairs=4","segment_length=0","dpo.epochs=1","filtered.epochs=1","filtered.batch_size=16","filtered.rounds=2","filtered.rollouts=2",'
    '"eval_workers=1"]',
    "experiment.eval_episodes=2", "experiment.report_frames=1", "progress=false",
]
STEPS = ["demos/unaligned", "demos/aligned", "policy", "demos/label", "round_1/rollouts", "round_1/label", "round_1/transfer_source", "round_1/transfer_source_aligned",
         "round_1/transfer_source_labels", "round_1/transfer", "round_1/reward_rrl", "round_1/reward_rrl_transfer", "round_1/reward_rapl", "round_1/align"]


def test_quickstart_pipeline_runs_reports_and_resumes(tmp_path):
    run = tmp_path / "pipe"
    out = robopref("pipeline", "experiment=quickstart", *TINY, f"hydra.run.dir={run}", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"report: {run / 'report.md'}" in out.stdout
    state = json.loads((run / "pipeline.json").read_text())
    assert state["order"] == STEPS
    align = state["steps"]["round_1/align"]["outputs"]
    assert align["before"]["n_episodes"] == 2 and align["after"]["n_episodes"] == 2
    assert align["method"] == "filtered_bc"  # the quickstart's method, in rounds: the 9 demos, then those and 2 rollouts of the policy
    assert [(r["episodes_ranked"], r["episodes_kept"]) for r in align["rounds"]] == [(9, 3), (11, 4)] and align["rounds"][1]["rollouts"] == 2
    # the person ranked 2 triplets of demos and 3 of rollouts: the trajectory reward learns from all 15 comparisons; RAPL
    # only from the rollouts' 9, as the quickstart's demos record no camera frames
    assert state["steps"]["demos/label"]["outputs"]["labels_added"] == 2
    assert state["steps"]["round_1/reward_rrl"]["outputs"]["comparisons"] == 15 and state["steps"]["round_1/reward_rapl"]["outputs"]["comparisons"] == 9
    report = (run / "report.md").read_text()
    for section in ("## The policy before and after alignment", "| pre-trained |", "| round 1: fine-tuned on the demos rrl ranks highest, then on those and its own rollouts (2 filtering rounds) |",
                    "- Demonstrations: the scripted person (`oracle` teacher) answered 2 triplet queries (6 pairwise comparisons) about the 9 demonstrations",
                    "## Learned rewards against the person's hidden preference", "| rapl |", "## Steps", "robopref policy dataset="):
        assert section in report, section
    for png in ("rates.png", "reward_scatter.png", "frames.png"):
        assert (run / "plots" / png).stat().st_size > 1000, png

    # finished: resuming re-runs nothing, and says which settings differ from the original run
    out = robopref("pipeline", "experiment=quickstart", *TINY, "experiment.report_frames=0", "resume=true", f"resume_from={run}",
                   f"hydra.run.dir={tmp_path / 'again'}", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"resuming {run}: {len(STEPS)} steps done" in out.stdout and "$ robopref" not in out.stdout
    assert "warning: experiment keys changed since this run started (report_frames)" in out.stdout

    # killed during the alignment step: only that step runs again
    state["order"].remove("round_1/align")
    finished = {s: state["steps"][s]["finished"] for s in state["order"]}
    del state["steps"]["round_1/align"]
    (run / "pipeline.json").write_text(json.dumps(state))
    out = robopref("pipeline", "experiment=quickstart", *TINY, "resume=true", f"resume_from={run}", f"hydra.run.dir={tmp_path / 'third'}", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.count("$ robopref") == 1 and "[round_1/align] $ robopref align" in out.stdout
    state = json.loads((run / "pipeline.json").read_text())
    assert state["order"] == STEPS and all(state["steps"][s]["finished"] == t for s, t in finished.items())


def test_pipeline_refuses_an_unknown_reward_for_alignment(tmp_path):
    out = robopref("pipeline", "experiment=quickstart", *TINY, "experiment.align.reward=nope", "experiment.transfer.enabled=false",
                   f"hydra.run.dir={tmp_path / 'p'}", cwd=tmp_path)
    assert out.returncode != 0
    assert "experiment.align.reward='nope' is not one of the experiment's rewards ['rapl', 'rrl', 'rrl_transfer']" in out.stderr


def test_pipeline_refuses_a_negative_number_of_demo_queries(tmp_path):
    out = robopref("pipeline", "experiment=quickstart", *TINY, "experiment.person.demo_queries=-1", f"hydra.run.dir={tmp_path / 'p'}", cwd=tmp_path)
    assert out.returncode != 0
    assert "experiment.person.demo_queries=-1: expected >= 0 queries about the demonstrations" in out.stderr
    assert not (tmp_path / "p" / "demos").exists()  # refused before the first step


def test_resume_from_a_directory_without_state_names_it(tmp_path):
    out = robopref("pipeline", "resume=true", f"resume_from={tmp_path}", f"hydra.run.dir={tmp_path / 'p'}", cwd=tmp_path)
    assert out.returncode != 0 and f"resume_from={str(tmp_path)!r}: no pipeline.json there" in out.stderr


def test_two_rounds_align_the_aligned_policy_again(tmp_path):
    # also the same-state chunk pairs (align pairs_from=samples) from the pipeline
    run = tmp_path / "pipe"
    out = robopref("pipeline", "experiment=quickstart", *TINY, "experiment.rounds=2", "experiment.transfer.enabled=false", "~experiment.rewards.rapl",
                   "~experiment.rewards.rrl_transfer", "experiment.rollout_repeats=2", "experiment.align.method=dpo", "experiment.align.pairs_from=samples",
                   'experiment.align.args=["samples.states=4","samples.candidates=2","samples.lookahead=1","dpo.epochs=1","eval_workers=1"]',
                   f"hydra.run.dir={run}", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    state = json.loads((run / "pipeline.json").read_text())
    assert [s for s in state["order"] if s.startswith("round_2/")] == ["round_2/rollouts", "round_2/label", "round_2/reward_rrl", "round_2/align"]
    first, second = state["steps"]["round_1/align"]["outputs"], state["steps"]["round_2/align"]["outputs"]
    assert second["policy"] == first["aligned_checkpoint"]  # round 2 starts from round 1's aligned policy
    assert state["steps"]["round_2/reward_rrl"]["outputs"]["comparisons"] > state["steps"]["round_1/reward_rrl"]["outputs"]["comparisons"]
    report = (run / "report.md").read_text()
    assert "| round 1: DPO on same-state chunks ranked by rrl |" in report and "| round 2: DPO on same-state chunks ranked by rrl |" in report


def test_group_experiment_runs_on_two_blocks_with_the_short_stick(tmp_path):
    run = tmp_path / "pipe"
    out = robopref("pipeline", "experiment=group", *TINY, "experiment.transfer.enabled=false", "~experiment.rewards.rapl", "~experiment.rewards.rrl_transfer",
                   f"hydra.run.dir={run}", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    from robopref.data import Dataset

    env = Dataset(run / "round_1" / "rollouts.hdf5").env_args["robopref_env"]
    assert (env["name"], env["task"], env["embodiment"], env["num_blocks"]) == ("push2d_group", "group", "short_stick", 2)
    assert (env["group_penalty"], env["group_step_penalty"]) == (10.0, 2.0)  # the person for whom "together" is a rule
    align = json.loads((run / "pipeline.json").read_text())["steps"]["round_1/align"]["outputs"]
    assert align["before"]["n_episodes"] == 2 and align["after"]["n_episodes"] == 2
    assert align["method"] == "filtered_bc"  # the group experiment's own method, the quickstart's
    assert "keeping them together" in (run / "report.md").read_text()


def test_avoid_experiment_is_the_quickstart_with_demo_labels_and_five_rounds(tmp_path):
    import yaml

    out = robopref("pipeline", "experiment=avoid", "--cfg", "job", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    avoid = yaml.safe_load(out.stdout)["experiment"]
    quickstart = yaml.safe_load(robopref("pipeline", "experiment=quickstart", "--cfg", "job", cwd=tmp_path).stdout)["experiment"]
    assert (avoid["person"]["queries"], avoid["person"]["demo_queries"]) == (15, 15)  # still 30 labels
    assert "filtered.rounds=5" in avoid["align"]["args"] and "filtered.rounds=3" in quickstart["align"]["args"]
    assert (avoid["rollout_batch"], quickstart["rollout_batch"]) == (1, 90)  # avoid's documented seeds rolled out one by one
    assert "filtered.steps=510" in quickstart["align"]["args"]  # the quickstart caps its rounds' fine-tuning; avoid's seeds ran whole passes
    assert not any(a.startswith("filtered.steps") for a in avoid["align"]["args"])
    changed = {"name", "description", "person", "align", "rollout_batch"}
    assert {k: v for k, v in avoid.items() if k not in changed} == {k: v for k, v in quickstart.items() if k not in changed}


@pytest.mark.parametrize("change, message", [
    ({"person": {"queries": 0}}, r"experiment.person.queries=0: expected an integer >= 1"),
    ({"person": {"segment_length": -1}}, r"experiment.person.segment_length=-1: expected an integer >= 0 \(0 means whole episodes\)"),
    ({"person": {"teacher": "wise"}}, r"experiment.person.teacher='wise': expected one of \['equal', 'mistake'"),
    ({"person": {"kind": "quad"}}, r"experiment.person.kind='quad': expected one of \['pair', 'triplet'\]"),
    ({"person": {"selection": "entropi"}}, r"experiment.person.selection='entropi'"),
    ({"transfer": {"aligned_fraction": 1.5}}, r"experiment.transfer: episodes=80, source_labels=200, aligned_fraction=1.5"),
])
def test_pipeline_checks_the_person_and_transfer_before_the_first_step(tmp_path, change, message):
    """Settings the label or transfer step would refuse minutes in (after demos and policy
    training) stop the pipeline before it starts."""
    spec = OmegaConf.merge(OmegaConf.structured(ExperimentSpec(name="t", rewards={"rrl": []})), change)
    runner = PipelineRunner(OmegaConf.to_object(spec), tmp_path, PipelineState(tmp_path, "t"))
    with pytest.raises(ValueError, match=message):
        runner.check()
    assert not (tmp_path / "demos").exists()
