"""The console script: stage listing, config errors, a collect run and a sweep."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from robopref.data import Dataset

ROOT = Path(__file__).resolve().parents[1]
LINE = [f"hydra.searchpath=[file://{ROOT}/tests/conf]", "env=line"]


def robopref(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), HYDRA_FULL_ERROR="0")
    return subprocess.run([sys.executable, "-m", "robopref.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_help_lists_stages(tmp_path):
    out = robopref("--help", cwd=tmp_path)
    assert out.returncode == 0
    assert "collect" in out.stdout and "roll a policy" in out.stdout


def test_unknown_stage_suggests(tmp_path):
    out = robopref("colect", cwd=tmp_path)
    assert out.returncode == 2 and "Did you mean 'collect'" in out.stderr


def test_stage_help_shows_config(tmp_path):
    out = robopref("collect", "--help", cwd=tmp_path)
    assert out.returncode == 0
    assert "episodes: 20" in out.stdout and "push2d_avoid" in out.stdout


def test_mistyped_key_and_wrong_type_name_the_key(tmp_path):
    out = robopref("collect", *LINE, "episode=3", cwd=tmp_path)
    assert out.returncode != 0 and "Key 'episode' not in 'CollectConfig'" in out.stderr
    out = robopref("collect", *LINE, "episodes=many", cwd=tmp_path)
    assert out.returncode != 0 and "full_key: episodes" in out.stderr
    out = robopref("collect", *LINE, "quality=superb", cwd=tmp_path)
    assert out.returncode != 0 and "full_key: quality" in out.stderr and "expected one of [expert, mixed, mh]" in out.stderr
    out = robopref("collect", *LINE, "policy=clever", cwd=tmp_path)
    assert out.returncode != 0 and "policy='clever' is not expert, random, replay or an existing checkpoint file" in out.stderr


def test_collect_writes_dataset_video_config_log_summary(tmp_path):
    out = robopref("collect", *LINE, "episodes=4", "videos=1", "seed=3", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    run = next((tmp_path / "outputs" / "collect").iterdir())
    assert (run / ".hydra" / "config.yaml").exists() and (run / "collect.log").exists()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["episodes"] == 4 and summary["success_rate"] == 1.0
    ds = Dataset(run / "dataset.hdf5")
    assert len(ds) == 4 and ds.image_keys == ["top_image"] and "pref_score" in ds.info_keys
    video = run / "videos" / "demo_0.mp4"
    assert video.stat().st_size > 1000
    lines = out.stdout.strip().splitlines()
    assert lines[-2] == f"dataset: {run / 'dataset.hdf5'}" and lines[-1] == f"video: {video}"


def test_collect_is_repeatable_with_a_seed(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        d.mkdir()
        assert robopref("collect", *LINE, "episodes=3", "videos=0", "noise=0.5", "seed=7", cwd=d).returncode == 0
    ra = Dataset(next((a / "outputs" / "collect").iterdir()) / "dataset.hdf5")
    rb = Dataset(next((b / "outputs" / "collect").iterdir()) / "dataset.hdf5")
    for demo in ra.demos:
        assert (ra.read(demo, "actions") == rb.read(demo, "actions")).all()


def test_sweep_runs_each_job(tmp_path):
    out = robopref("collect", "-m", *LINE, "episodes=2", "videos=0", "seed=0,1", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    summaries = sorted((tmp_path / "multirun").rglob("summary.json"))
    assert len(summaries) == 2


def test_collect_label_with_expert_records_dagger_labels(tmp_path):
    """A non-expert policy drives; the clean scripted expert's action at each visited state
    is stored as action_dict/intended (DAgger data), the executed actions stay as they were."""
    out = robopref("collect", *LINE, "policy=random", "label_with=expert", "episodes=2", "videos=0", "seed=1", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    ds = Dataset(next((tmp_path / "outputs" / "collect").iterdir()) / "dataset.hdf5")
    for demo in ds.demos:
        executed, intended = ds.read(demo, "actions"), ds.read(demo, "action_dict/intended")
        assert intended.shape == executed.shape and (intended == 1.0).all()  # LineEnv's expert always pushes right
        assert not (executed == 1.0).all()
    out = robopref("collect", *LINE, "policy=random", "label_with=expert", "dagger_beta=1.0", "episodes=1", "videos=0", "output=beta1.hdf5", cwd=tmp_path)
    assert out.returncode == 0, out.stderr  # beta = 1: the expert drives too
    beta1 = Dataset(next(p for p in (tmp_path / "outputs" / "collect").rglob("beta1.hdf5")))
    assert (beta1.read("demo_0", "actions") == 1.0).all()
    out = robopref("collect", *LINE, "label_with=expert", "episodes=1", cwd=tmp_path)
    assert out.returncode != 0 and "label_with=expert labels a learned (or random) policy's states" in out.stderr
    out = robopref("collect", *LINE, "policy=random", "label_with=person", "episodes=1", cwd=tmp_path)
    assert out.returncode != 0 and "label_with='person': expected null or 'expert'" in out.stderr
    out = robopref("collect", *LINE, "policy=random", "label_with=expert", "dagger_beta=1.5", "episodes=1", cwd=tmp_path)
    assert out.returncode != 0 and "dagger_beta=1.5: expected a probability in [0, 1]" in out.stderr


def test_collect_refuses_to_replace_an_existing_dataset(tmp_path):
    """A re-run with the same output= must not discard collected episodes: it stops with a
    message naming the file and the two ways on, and the file is left as it was."""
    data = tmp_path / "d.hdf5"
    base = [*LINE, "videos=0", "noise=0.5", f"output={data}"]
    assert robopref("collect", *base, "episodes=3", cwd=tmp_path).returncode == 0
    before = data.read_bytes()
    out = robopref("collect", *base, "episodes=2", cwd=tmp_path)
    assert out.returncode != 0
    assert f"output={data} already exists (3 episodes): pass append=true" in out.stderr and "overwrite=true" in out.stderr
    assert data.read_bytes() == before
    out = robopref("collect", *base, "episodes=2", "append=true", "overwrite=true", cwd=tmp_path)
    assert out.returncode != 0 and "choose one" in out.stderr
    assert robopref("collect", *base, "episodes=2", "append=true", "seed=1", cwd=tmp_path).returncode == 0
    assert len(Dataset(data).demos) == 5
    assert robopref("collect", *base, "episodes=2", "overwrite=true", cwd=tmp_path).returncode == 0
    assert len(Dataset(data).demos) == 2
    out = robopref("collect", *base, "episodes=0", "overwrite=true", cwd=tmp_path)
    assert out.returncode != 0 and "episodes=0: expected >= 1" in out.stderr
    assert len(Dataset(data).demos) == 2
