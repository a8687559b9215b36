"""``robopref transfer`` end to end on push2d: collect two embodiments, label the source, transfer."""

from __future__ import annotations

import json

import numpy as np
import pytest

from robopref.data import Dataset, DatasetWriter, whole_episodes
from robopref.data.pool import DatasetPool
from robopref.prefs import PreferenceStore
from robopref.rollout import record_episode
from robopref.rollout.factory import env_args_of, make_env, make_scripted_policy
from robopref.teachers import segment_returns
from robopref.data.segments import SegmentRef
from robopref.transfer.labels import TransferredLabels, all_pairs
from robopref.transfer.pipeline import TransferSettings, load_source, read_sequences, transfer, write_transferred
from tests.test_cli import robopref

EPISODES = 36  # six noise levels from clean expert to near-random, 6 episodes each (like quality=mixed)
NOISE = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0)


def _collect(path, embodiment: str) -> str:
    """Mixed-quality push2d avoid episodes of 60 steps, recorded in-process (faster than the CLI)."""
    env_cfg = {"name": "push2d_avoid", "_target_": "robopref_envs.push2d.make_env", "task": "avoid", "embodiment": embodiment,
               "image_size": 0, "max_episode_steps": 60, "expert": {"_target_": "robopref_envs.push2d.Push2DExpert"}}
    env = make_env(env_cfg)
    with DatasetWriter(path, env_args=env_args_of(env, env_cfg), mode="w") as w:
        for i in range(EPISODES):
            policy = make_scripted_policy(env_cfg, env, noise=NOISE[i % len(NOISE)], seed=i)
            w.add_episode(record_episode(env, policy, seed=100 + i))
    return str(path)


@pytest.fixture(scope="module")
def push2d(tmp_path_factory):
    """(dir, source dataset (gripper), source store with oracle labels on every pair, target dataset (short stick))."""
    root = tmp_path_factory.mktemp("transfer")
    source, target = _collect(root / "gripper.hdf5", "gripper"), _collect(root / "short_stick.hdf5", "short_stick")
    pool = DatasetPool([Dataset(source)])
    refs = whole_episodes(pool.get(source))
    returns = segment_returns(pool, refs, "pref_score")
    store = root / "source.sqlite"
    with PreferenceStore(store) as s:
        i, k = all_pairs(len(refs))
        ids = s.add_queries([(refs[a], refs[b]) for a, b in zip(i, k)])
        with s.batch():
            for q, a, b in zip(ids, i, k):
                s.add_label(q, annotator="oracle", source="scripted", value=0.5 if returns[a] == returns[b] else float(returns[a] > returns[b]))
    return root, source, str(store), target


def _summary(out) -> dict:
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout[out.stdout.index("{"):])


def test_transfer_stage_beats_chance_and_writes_labels(push2d):
    root, source, source_store, target = push2d
    store = root / "target.sqlite"
    gw = _summary(robopref("transfer", f"source={source}", f"source_store={source_store}", f"target={target}",
                           f"store={store}", "pairs=0", "method=gw_entropic", cwd=root))
    assert gw["method"] == "gw_entropic" and gw["pairs"] == EPISODES * (EPISODES - 1) // 2
    assert gw["features"] == "states+actions+action_deltas" and gw["label_mode"] == "hard"  # the defaults (conf/transfer.yaml)
    assert gw["transfer_accuracy_all_pairs"]["accuracy"] > 0.6  # chance is 0.5
    with PreferenceStore(store, readonly=True) as s:
        labels = s.labels(source="transferred")
        assert len(labels) == gw["labels_added"] > 0
        assert {l.annotator for l in labels} == {"transfer:gw_entropic"}
        # label_mode=hard (default): the side the transferred label picks, weighted by its margin
        assert {l.value for l in labels} <= {0.0, 0.5, 1.0} and all(0.0 <= l.confidence <= 1.0 for l in labels)
        assert {q.origin for q in s.queries()} == {"transfer"}


@pytest.mark.slow
def test_fewshot_threshold_and_baseline(push2d):
    root, source, source_store, target = push2d
    store = root / "fewshot.sqlite"
    out = _summary(robopref("transfer", f"source={source}", f"source_store={source_store}", f"target={target}",
                            f"store={store}", "pairs=100", "fewshot_labels=10", "restarts=3", "min_confidence=0.5", "features=actions",
                            "label_mode=soft", cwd=root))
    assert out["fewshot_labels"] == 10 and out["plan"]["candidates"] == 4 and out["label_mode"] == "soft"
    with PreferenceStore(store, readonly=True) as s:
        transferred = s.labels(source="transferred")
        assert len(s.labels(source="scripted")) == 10
        # soft labels: stored confidence = transfer confidence / target_weight (5), and the threshold held
        assert all(0.5 / 5 - 1e-9 <= l.confidence <= 1 / 5 + 1e-9 for l in transferred)
    base = _summary(robopref("transfer", f"source={source}", f"source_store={source_store}", f"target={target}",
                             f"store={root / 'base.sqlite'}", "pairs=50", "method=nearest_cosine", cwd=root))
    assert base["method"] == "nearest_cosine" and base["labels_added"] == 50


def test_bad_inputs_fail_clearly(push2d, tmp_path):
    root, source, source_store, target = push2d
    out = robopref("transfer", f"source_store={source_store}", f"target={target}", "pairz=3", cwd=tmp_path)
    assert out.returncode != 0 and "pairz" in out.stderr
    out = robopref("transfer", f"source_store={source_store}", f"target={target}", "time=stretched", cwd=tmp_path)
    assert out.returncode != 0 and "time='stretched': expected one of absolute, normalised" in out.stderr
    out = robopref("transfer", f"source_store={source_store}", f"target={target}", "label_mode=sharp", cwd=tmp_path)
    assert out.returncode != 0 and "label_mode='sharp': expected one of hard, soft" in out.stderr
    with pytest.raises(Exception, match="missing.hdf5: file does not exist"):
        DatasetPool().get(str(tmp_path / "missing.hdf5"))
    with pytest.raises(ValueError, match="method='gw_magic'"):
        TransferSettings(method="gw_magic")
    with pytest.raises(ValueError, match="restarts=2: gw_entropic is deterministic"):
        TransferSettings(method="gw_entropic", restarts=2)
    with pytest.raises(ValueError, match=r"exact_max=1500, embed_dim=0, clusters=None: expected exact_max >= 0, embed_dim >= 1"):
        TransferSettings(embed_dim=0)
    with pytest.raises(ValueError, match=r"clusters=1"):
        TransferSettings(clusters=1)
    out = robopref("transfer", f"source_store={source_store}", f"target={target}", "fewshot_labels=-1", cwd=tmp_path)
    assert out.returncode != 0 and "pairs=1000, fewshot_labels=-1: expected >= 0" in out.stderr
    with PreferenceStore(source_store, readonly=True) as store:
        with pytest.raises(ValueError, match="no pair labels on"):
            load_source(store, target)
        refs, labels = load_source(store, source)
    pool = DatasetPool()
    with pytest.raises(ValueError, match="features="):
        read_sequences(pool, refs, features="pixels")
    xs = read_sequences(pool, refs, features="actions")
    with pytest.raises(ValueError, match="gw_quantized needs vector distances"):
        transfer(TransferSettings(method="gw_quantized", distance="dtw"), xs, labels, xs, np.array([0]), np.array([1]))


def test_default_features_read_blocks_and_transfer_beats_chance(push2d):
    """The default recipe (states, actions and action deltas as equal blocks, absolute
    time) reads the blocks of each embodiment and transfers well above chance."""
    root, source, source_store, target = push2d
    pool = DatasetPool()
    with PreferenceStore(source_store, readonly=True) as store:
        refs, labels = load_source(store, source)
    xs = read_sequences(pool, refs)
    assert list(xs.blocks) == ["states", "actions", "action_deltas"]
    assert xs.blocks["actions"][0].shape[1] == 2 and np.allclose(xs.blocks["action_deltas"][0][0], 0.0)
    a, d = xs.blocks["actions"][0], read_sequences(pool, refs[:1], features="abs_action_deltas").blocks["abs_action_deltas"][0]
    assert np.allclose(d[0], 0.0) and np.allclose(d[1:], np.abs(np.diff(a, axis=0)))
    target_refs = whole_episodes(pool.get(target))
    ys = read_sequences(pool, target_refs)
    assert ys.blocks["actions"][0].shape[1] == 3  # the stick turns: a 3-D action
    j, l = all_pairs(len(target_refs))
    result, _ = transfer(TransferSettings(method="gw_entropic"), xs, labels, ys, j, l)
    truth = segment_returns(pool, target_refs, "pref_score")
    decided = truth[j] != truth[l]
    assert np.mean(((result.value > 0.5) == (truth[j] > truth[l]))[decided]) > 0.6


def test_gw_picks_entropic_then_exact_with_restarts_then_landmarks_by_size():
    assert TransferSettings().resolve(200, 200) == "gw_entropic"  # the best solver on every benchmark pair
    assert TransferSettings(restarts=3).resolve(200, 200) == "gw_exact"  # restarts for the few-shot choice
    assert TransferSettings(exact_max=100).resolve(50, 101) == "gw_landmarks"  # the per-block geometry at scale
    assert TransferSettings(exact_max=100, restarts=3).resolve(50, 101) == "gw_quantized"
    assert TransferSettings(method="gw_exact").resolve(5000, 5000) == "gw_exact"  # a named method is kept


def test_write_transferred_stores_hard_or_soft_labels(tmp_path):
    refs = [SegmentRef("d.hdf5", f"demo_{i}", 0, 10) for i in range(3)]
    result = TransferredLabels(np.array([0, 1, 0]), np.array([1, 2, 2]), value=np.array([0.8, 0.3, 0.6]),
                               confidence=np.array([1.0, 0.5, 0.0]), mass=np.array([1.0, 1.0, 0.0]))
    keep = result.keep(0.0)  # the pair without transport mass is not written
    with PreferenceStore(tmp_path / "p.sqlite") as store:
        write_transferred(store, refs, result, keep, "transfer:test", confidence_scale=0.5)
        write_transferred(store, refs, result, keep, "transfer:soft", label_mode="soft")
        hard = [(l.value, l.confidence) for l in store.labels(annotator="transfer:test")]
        soft = [(l.value, l.confidence) for l in store.labels(annotator="transfer:soft")]
    np.testing.assert_allclose(hard, [(1.0, 0.6 * 0.5), (0.0, 0.4 * 0.5 * 0.5)])  # side, confidence x |2z - 1| x scale
    np.testing.assert_allclose(soft, [(0.8, 1.0), (0.3, 0.5)])
