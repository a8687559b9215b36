"""The flow of docs/labelling.md, end to end from the command line:
collect → label teacher=none → app → answers over HTTP → reward."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from omegaconf import OmegaConf

from robopref.prefs import PreferenceStore
from robopref.stages import app as app_stage
from tests.test_cli import LINE, ROOT, robopref


def start_app(*args: str, cwd: Path) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), HYDRA_FULL_ERROR="0")
    proc = subprocess.Popen([sys.executable, "-m", "robopref.cli", "app", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:  # type: ignore[union-attr]
        found = re.search(r"label at (http://127\.0\.0\.1:\d+)/", line)
        if found:
            return proc, found.group(1)
    proc.wait(timeout=30)
    raise AssertionError(f"robopref app did not print its URL (exit {proc.returncode})")


def test_collect_label_app_answers_reward(tmp_path):
    data, store = tmp_path / "line.hdf5", tmp_path / "prefs.sqlite"
    out = robopref("collect", *LINE, "env.horizon=20", "episodes=8", "noise=1.0", "videos=0", f"output={data}", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    out = robopref("label", LINE[0], f"dataset={data}", f"store={store}", "teacher=none", "queries=12", "segment_length=6", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    with pytest.raises(ValueError, match=re.escape(f"the queries in {store} refer to: [{data}]")):
        app_stage.run(OmegaConf.create({"db": str(store), "datasets": []}))  # forgot datasets=: the message lists them
    proc, url = start_app(f"db={store}", f"datasets=[{data}]", "port=0", "prefetch_videos=false", cwd=tmp_path)
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            assert "Who is labelling?" in client.get("/").text
            since = client.post("/api/sessions", json={"annotator": "ana"}).json()["since"]
            answered = 0
            while (query := client.get("/api/next", params={"annotator": "ana", "since": since}).json()["query"]) is not None:
                choice = "skip" if query["id"] == 3 else ("left", "right")[query["id"] % 2]
                r = client.post("/api/answers", json={"annotator": "ana", "query_id": query["id"], "request_id": uuid.uuid4().hex, "choice": choice})
                assert r.status_code == 201, r.text
                answered += 1
            assert answered == 12
            video = client.get("/api/videos/0/demo_0/0/6.webm")
            assert video.status_code == 200 and video.content[:4] == b"\x1a\x45\xdf\xa3"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    with PreferenceStore(store, readonly=True) as s:
        assert s.count_labels(source="human") == 12
    out = robopref("reward", LINE[0], f"store={store}", "reward=bt", "reward.epochs=5", "reward.hidden=[16]", "eval_length=6",
                   "progress=false", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    metrics = json.loads((next((tmp_path / "outputs" / "reward").iterdir()) / "metrics.json").read_text())
    assert metrics["comparisons"] == 11  # 12 answers, one skip
