"""pipeline.json: steps survive a restart, bad files fail with the path and what to do."""

from __future__ import annotations

import json

import pytest

from robopref.pipeline.experiment import env_overrides
from robopref.pipeline.state import STATE_FILE, PipelineState


def test_recorded_steps_are_read_back_in_order(tmp_path):
    state = PipelineState(tmp_path, "quickstart")
    assert not state.done("demos") and state.steps() == []
    state.record("demos", {"outputs": {"dataset": "d.hdf5"}})
    state.record("policy", {"outputs": {"checkpoint": "best.ckpt"}})
    again = PipelineState(tmp_path, "quickstart")
    assert [s for s, _ in again.steps()] == ["demos", "policy"]
    assert again.get("policy")["outputs"] == {"checkpoint": "best.ckpt"}
    assert not (tmp_path / (STATE_FILE + ".partial")).exists()  # written through a temporary file, renamed


def test_a_write_that_dies_midway_leaves_the_previous_state(tmp_path, monkeypatch):
    state = PipelineState(tmp_path, "quickstart")
    state.record("demos", {"outputs": {"dataset": "d.hdf5"}})

    def killed(fd: int) -> None:
        raise KeyboardInterrupt  # the process is stopped after the new state was half written

    monkeypatch.setattr("robopref.utils.atomic.os.fsync", killed)
    with pytest.raises(KeyboardInterrupt):
        state.record("policy", {"outputs": {"checkpoint": "best.ckpt"}})
    monkeypatch.undo()
    again = PipelineState(tmp_path, "quickstart")
    assert [s for s, _ in again.steps()] == ["demos"]  # resume reruns the step that was being recorded


def test_unfinished_step_is_not_done_and_get_names_the_done_ones(tmp_path):
    state = PipelineState(tmp_path, "quickstart")
    state.record("demos", {"outputs": {}})
    with pytest.raises(KeyError, match="'policy' has not run yet \\(done: demos\\)"):
        state.get("policy")


def test_corrupt_or_foreign_state_files_are_refused(tmp_path):
    (tmp_path / STATE_FILE).write_text("{not json")
    with pytest.raises(ValueError, match=f"{STATE_FILE}: not a readable pipeline state"):
        PipelineState(tmp_path, "quickstart")
    (tmp_path / STATE_FILE).write_text(json.dumps({"version": 1, "experiment": "other", "steps": {}, "order": []}))
    with pytest.raises(ValueError, match="belongs to experiment 'other', not 'quickstart'; resume it with experiment=other"):
        PipelineState(tmp_path, "quickstart")


def test_env_overrides_select_the_group_and_force_each_key():
    assert env_overrides("push2d_avoid", {"num_blocks": 1, "render_images": False, "zone_penalty": 5.0}) == [
        "env=push2d_avoid", "++env.num_blocks=1", "++env.render_images=false", "++env.zone_penalty=5.0"]
