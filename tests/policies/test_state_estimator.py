"""Cameras pre-trained as state estimators (image_state_key): they learn what the frame shows,
stay frozen while the policy trains, and the policy reads the camera at rollout exactly as it
read the precomputed estimates in training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from robopref.data import Dataset
from robopref.policies import DiffusionPolicy, Normalizer, PolicyShapes, TrainConfig, read_checkpoint, train_policy
from robopref.policies.checkpoint import build_model
from robopref.policies.dataset import SequenceDataset, WindowSpec
from robopref.policies.keypoints import KeypointEncoder, SpatialSoftmax
from robopref.policies.obs_encoder import estimate_key
from robopref.policies.train import resolve_policy_config
from tests.policies.conftest import tiny_config


def _estimator_config(**overrides):
    base = dict(image_keys=None, low_dim_keys=[], image_encoder="keypoints", image_state_key="state", image_state_steps=150, image_state_batch=32)
    return tiny_config(**{**base, **overrides})


def _run(dataset, out, epochs: int = 1, seed: int = 0, **overrides):
    cfg = TrainConfig(epochs=epochs, batch_size=16, lr=1e-3, lr_warmup_steps=2, eval_every=0, progress=False, seed=seed)
    return train_policy(_estimator_config(**overrides), cfg, str(dataset), out)


def test_spatial_softmax_finds_the_peak():
    maps = torch.full((1, 2, 8, 8), -50.0)
    maps[0, 0, 3, 7] = 50.0  # row 3, column 7
    maps[0, 1, 0, 0] = 50.0
    xy = SpatialSoftmax()(maps)[0]
    grid = torch.linspace(-1, 1, 8)
    assert torch.allclose(xy, torch.stack([grid[7], grid[0], grid[3], grid[0]]), atol=1e-4)  # x of each map, then y
    assert KeypointEncoder(out_dim=5, keypoints=4)(torch.rand(3, 3, 16, 16)).shape == (3, 5)


def test_pretraining_learns_what_the_camera_shows(line_dataset, tmp_path):
    # LineEnv draws x as a column of the image; its second value (time) is not in the frame
    untrained = _run(line_dataset, tmp_path / "a", image_state_steps=1)["state_estimators"]["top_image"]
    trained = _run(line_dataset, tmp_path / "b")["state_estimators"]["top_image"]
    assert trained["held_out"] == "val_demos" and trained["steps"] == 150
    assert trained["val_abs_error"][0] < 0.5 * untrained["val_abs_error"][0]
    assert trained["val_abs_error"][0] < 0.3  # x spans [-2, 2]


def test_estimators_stay_frozen_and_rollouts_read_the_camera(line_dataset, tmp_path):
    one = read_checkpoint(_run(line_dataset, tmp_path / "one", epochs=1)["last"])
    two = read_checkpoint(_run(line_dataset, tmp_path / "two", epochs=2)["last"])
    enc = [k for k in one["model"] if k.startswith("obs_encoder.encoders.")]
    unet = [k for k in one["model"] if k.startswith("unet.")]
    assert enc and all(torch.equal(one["model"][k], two["model"][k]) for k in enc)  # same pre-training, then never trained
    assert not all(torch.equal(one["model"][k], two["model"][k]) for k in unet)  # while the U-Net was
    assert all(torch.equal(two["model"][k], two["ema"]["averaged"][k]) for k in enc)

    model = build_model(two)
    ds = Dataset(line_dataset)
    frames = torch.from_numpy(ds.read("demo_1", "obs/top_image", 3, 5))[None]  # (1, 2, H, W, C)
    with torch.no_grad():
        estimate = model.obs_encoder.encoders["top_image"](frames[0].permute(0, 3, 1, 2).float() / 255)[None]
    from_camera = model.predict_action({"top_image": frames}, generator=torch.Generator().manual_seed(3))
    from_estimate = model.predict_action({estimate_key("top_image", "state"): estimate}, generator=torch.Generator().manual_seed(3))
    assert torch.allclose(from_camera, from_estimate, atol=1e-5)
    assert two["shapes"]["estimated"] == {"state": 2} and "state" not in two["shapes"]["low_dim"]


def test_image_state_key_errors_name_the_problem(line_dataset):
    ds = Dataset(line_dataset)
    with pytest.raises(ValueError, match="image_state_key='pose' is not a low-dim observation key"):
        resolve_policy_config(_estimator_config(image_state_key="pose"), ds)
    with pytest.raises(ValueError, match="also in low_dim_keys"):
        resolve_policy_config(_estimator_config(low_dim_keys=["state"]), ds)
    with pytest.raises(ValueError, match="no cameras"):
        resolve_policy_config(_estimator_config(image_keys=[]), ds)
    with pytest.raises(ValueError, match="image_state_steps=0"):
        _estimator_config(image_state_steps=0)


def test_estimated_objects_are_sorted_nearest_first():
    shapes = PolicyShapes(action_dim=2, low_dim={}, images={"top_image": (16, 16, 3)}, estimated={"state": 12})
    norm = Normalizer.fit_arrays({"action": np.array([[-1.0, -1.0], [1, 1]]), "state": np.stack([-np.ones(12), np.ones(12)])})
    cfg = tiny_config(image_keys=["top_image"], low_dim_keys=[], image_encoder="keypoints", image_state_key="state",
                      sort_objects_key="state", objects_offset=4, object_size=4)
    model = DiffusionPolicy(cfg, shapes, norm)
    robot = [0.0, 0.0, 1.0, 0.0]
    far, near = [0.9, 0.9, 1.0, 0.0], [0.1, 0.0, 0.0, 1.0]
    est = torch.tensor([robot + far + near] * 2)[None]  # (1, T=2, 12): the far block listed first
    feats = model.obs_encoder({estimate_key("top_image", "state"): est}).reshape(2, 12)
    assert torch.equal(feats[-1], torch.tensor(robot + near + far))


def test_fine_tuning_and_resuming_keep_the_trained_estimators(line_dataset, tmp_path):
    first = _run(line_dataset, tmp_path / "first")
    weights = read_checkpoint(first["last"])["ema"]["averaged"]
    cfg = TrainConfig(epochs=1, batch_size=16, lr=1e-3, lr_warmup_steps=2, eval_every=0, progress=False, seed=1)
    tuned = train_policy(_estimator_config(), cfg, str(line_dataset), tmp_path / "tuned", init_from=first["last"])
    assert tuned["state_estimators"] is None  # no second pre-training: the checkpoint's estimators are kept
    after = read_checkpoint(tuned["last"])["model"]
    assert all(torch.equal(after[k], weights[k]) for k in after if k.startswith("obs_encoder.encoders."))

    def run(out, budget=None, resume=False):
        c = TrainConfig(epochs=2, batch_size=16, lr=1e-3, lr_warmup_steps=2, eval_every=0, progress=False, seed=2, max_minutes=budget)
        return train_policy(_estimator_config(), c, str(line_dataset), out, resume=resume)

    straight = read_checkpoint(run(tmp_path / "a")["last"])["model"]
    assert run(tmp_path / "b", budget=0.0)["epochs_done"] == 1  # stopped after one epoch, as a crash would
    resumed = run(tmp_path / "b", resume=True)
    assert resumed["state_estimators"] is None and resumed["epochs_done"] == 2
    assert all(torch.equal(straight[k], v) for k, v in read_checkpoint(resumed["last"])["model"].items())


def test_extra_arrays_are_served_like_low_dim_keys_and_checked(line_dataset):
    ds = Dataset(line_dataset)
    demos = ds.demos[:2]
    extra = {"cam:state": {d: np.arange(ds.num_samples(d) * 3, dtype=np.float32).reshape(-1, 3) for d in demos}}
    data = SequenceDataset(ds, demos, WindowSpec(8, 2, 4), ["state"], extra=extra)
    batch = data.get_batch([0, 5])
    assert torch.equal(batch["obs"]["cam:state"][1], torch.from_numpy(extra["cam:state"][demos[0]][4:6]))  # window 5 starts at step 4
    with pytest.raises(ValueError, match=r"extra key 'cam:state': no arrays for demo\(s\)"):
        SequenceDataset(ds, ds.demos[:3], WindowSpec(8, 2, 4), ["state"], extra=extra)
    short = {"cam:state": {d: v[:-1] for d, v in extra["cam:state"].items()}}
    with pytest.raises(ValueError, match="rows for"):
        SequenceDataset(ds, demos, WindowSpec(8, 2, 4), ["state"], extra=short).get_batch([0])
