"""``robopref convert format=lerobot_policy``: a LeRobot diffusion policy folder becomes a robopref
policy that samples what the original network samples, runs in ``eval`` and fine-tunes.

The folders are written from robopref networks set up as LeRobot's (tests/policies/lerobot_policy.py);
the import was checked against LeRobot 0.4.4's own code with benchmarks/check_lerobot_policy.py.
"""

from __future__ import annotations

import json

import pytest
import torch

from robopref.policies.checkpoint import load_policy, read_checkpoint
from robopref.policies.config import DiffusionPolicyConfig, PolicyShapes
from robopref.policies.diffusion_policy import DiffusionPolicy
from robopref.policies.lerobot_import import import_lerobot_policy, read_lerobot_policy
from robopref.utils.safetensors import write_safetensors
from tests.policies.conftest import write_line_dataset
from tests.policies.lerobot_policy import ACTION_STATS, CAMERA_STATS, STATE_STATS, source_policy, write_lerobot_policy
from tests.test_cli import LINE, robopref


def observations(image_size: int, batch: int = 3) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    frames = lambda: torch.randint(0, 256, (batch, 2, image_size, image_size, 3), dtype=torch.uint8, generator=g)  # noqa: E731
    return {"state": torch.randn(batch, 2, 2, generator=g), "arm_image": frames(), "top_image": frames()}


@pytest.mark.parametrize("separate", [True, False])
def test_the_imported_policy_samples_what_the_original_network_samples(tmp_path, separate):
    source = source_policy()
    if not separate:  # one encoder for every camera
        source.obs_encoder.encoders["arm_image"].load_state_dict(source.obs_encoder.encoders["top_image"].state_dict())
    write_lerobot_policy(tmp_path / "run" / "checkpoints" / "last" / "pretrained_model", source, separate=separate)
    res = robopref("convert", "format=lerobot_policy", "source=run/checkpoints/last", "num_inference_steps=8", "hydra.run.dir=conv", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    summary = json.loads((tmp_path / "conv" / "summary.json").read_text())
    assert summary["obs_keys"] == {"observation.state": "state", "observation.images.top": "top_image", "observation.images.arm": "arm_image"}
    assert summary["crop_ratio"] == 0.875 and summary["stats_from"].endswith("policy_postprocessor_step_0_unnormalizer_processor.safetensors")
    imported = load_policy(tmp_path / "conv" / "policy.ckpt", device="cpu").model
    assert imported.cfg.image_pool == "spatial_softmax" and imported.cfg.image_keypoints == 4
    obs, noise = observations(64), torch.randn(3, 16, 2)
    expected = source.predict_action(obs, noise=noise, num_inference_steps=8)
    torch.testing.assert_close(imported.predict_action(obs, noise=noise), expected, atol=1e-4, rtol=1e-4)


def test_normalisation_is_lerobots(tmp_path):
    """MIN_MAX state and action: 2 (x - min) / (max - min) - 1; MEAN_STD cameras: (x - mean) / std per channel."""
    model, info = import_lerobot_policy(read_lerobot_policy(write_lerobot_policy(tmp_path / "p", source_policy())), where="p")
    x = torch.tensor([[0.5, 2.0], [-2.0, -1.0]])
    torch.testing.assert_close(model.normalizer.normalize("state", x), 2 * (x - STATE_STATS["min"]) / (STATE_STATS["max"] - STATE_STATS["min"]) - 1)
    a = torch.tensor([[0.0, 0.0], [1.0, -1.0]])
    torch.testing.assert_close(model.normalizer.unnormalize("action", a), (a + 1) / 2 * (ACTION_STATS["max"] - ACTION_STATS["min"]) + ACTION_STATS["min"])
    mean, std = CAMERA_STATS["arm"]
    frames = torch.rand(2, 3, 5, 5)
    torch.testing.assert_close(model.obs_encoder.pixels(frames, "arm_image"),
                               (frames - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1))
    assert info["normalization"] == {"VISUAL": "MEAN_STD", "STATE": "MIN_MAX", "ACTION": "MIN_MAX"}


def test_statistics_kept_in_the_weights_by_older_lerobot_versions_are_read(tmp_path):
    source = source_policy(seed=2)
    ckpt = read_lerobot_policy(write_lerobot_policy(tmp_path / "old", source, legacy=True))
    assert ckpt.stats_from.endswith("model.safetensors") and "observation_state" in ckpt.stats
    imported, _ = import_lerobot_policy(ckpt, num_inference_steps=8, where="old")
    obs, noise = observations(64), torch.randn(3, 16, 2)
    torch.testing.assert_close(imported.predict_action(obs, noise=noise), source.predict_action(obs, noise=noise, num_inference_steps=8),
                               atol=1e-4, rtol=1e-4)


def line_policy() -> DiffusionPolicy:
    """A policy for the test line env (state (2,), one 16 x 16 camera, 1-D actions) built as LeRobot's."""
    cfg = DiffusionPolicyConfig(name="diffusion_image", low_dim_keys=["state"], image_keys=["top_image"], down_dims=[16, 32],
                                diffusion_step_embed_dim=16, horizon=16, image_feature_dim=8, image_pool="spatial_softmax", image_keypoints=4,
                                image_stats={"top_image": {"mean": [0.5] * 3, "std": [0.25] * 3}}, crop_ratio=0.875)
    return DiffusionPolicy(cfg, PolicyShapes(action_dim=1, low_dim={"state": 2}, images={"top_image": (16, 16, 3)}))


def write_line_folder(folder) -> None:
    """:func:`line_policy` as a LeRobot < 0.4 folder: one shared camera encoder, statistics in the weights."""
    folder.mkdir()
    config = {"type": "diffusion", "n_obs_steps": 2, "horizon": 16, "n_action_steps": 8,
              "input_features": {"observation.state": {"type": "STATE", "shape": [2]}, "observation.images.top": {"type": "VISUAL", "shape": [3, 16, 16]}},
              "output_features": {"action": {"type": "ACTION", "shape": [1]}}, "normalization_mapping": {"VISUAL": "MEAN_STD", "STATE": "MIN_MAX", "ACTION": "MIN_MAX"},
              "crop_shape": [14, 14], "use_group_norm": True, "spatial_softmax_num_keypoints": 4, "use_separate_rgb_encoder_per_camera": False,
              "down_dims": [16, 32], "diffusion_step_embed_dim": 16}
    (folder / "config.json").write_text(json.dumps(config))
    stats = {"normalize_inputs.buffer_observation_state.min": torch.tensor([-2.0, -1.0]), "normalize_inputs.buffer_observation_state.max": torch.tensor([2.0, 1.0]),
             "normalize_inputs.buffer_observation_images_top.mean": torch.full((3, 1, 1), 0.5),
             "normalize_inputs.buffer_observation_images_top.std": torch.full((3, 1, 1), 0.25),
             "unnormalize_outputs.buffer_action.min": torch.tensor([-1.0]), "unnormalize_outputs.buffer_action.max": torch.tensor([1.0])}
    write_safetensors(folder / "model.safetensors", {**lerobot_weights_line(line_policy()), **stats})


def test_an_imported_policy_runs_in_eval_and_fine_tunes_without_restating_its_architecture(tmp_path, line_dataset):
    write_line_folder(tmp_path / "lr")
    assert robopref("convert", "format=lerobot_policy", "source=lr", "output=imported.ckpt", "hydra.run.dir=conv", cwd=tmp_path).returncode == 0
    out = robopref("eval", "policy=conv/imported.ckpt", *LINE, "episodes=2", "workers=1", "videos=0", "hydra.run.dir=ev", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert len(json.loads((tmp_path / "ev" / "eval.json").read_text())["episodes"]) == 2
    # fine-tuning takes the checkpoint's policy config (spatial softmax, image_stats, sizes): nothing to restate
    res = robopref("policy", f"dataset={line_dataset}", "init_from=conv/imported.ckpt", "epochs=1", "eval_every=0", "max_train_steps=2",
                   "batch_size=4", "policy.num_inference_steps=4", "hydra.run.dir=ft", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    tuned = read_checkpoint(tmp_path / "ft" / "checkpoints" / "last.ckpt")["policy_config"]
    assert tuned["image_pool"] == "spatial_softmax" and tuned["image_stats"]["top_image"]["std"] == pytest.approx([0.25] * 3)
    assert tuned["num_inference_steps"] == 4 and tuned["down_dims"] == [16, 32]
    # a dataset with other frame sizes is refused, saying which size to write it at
    big = write_line_dataset(tmp_path / "line24.hdf5", episodes=2, image_size=24)
    res = robopref("policy", f"dataset={big}", "init_from=conv/imported.ckpt", "epochs=1", "eval_every=0", "hydra.run.dir=ft3", cwd=tmp_path)
    assert res.returncode != 0 and "only the frame size differs: write the dataset at 16 x 16" in res.stderr
    # an explicitly chosen policy group must match the checkpoint key for key, as before
    res = robopref("policy", f"dataset={line_dataset}", "init_from=conv/imported.ckpt", "policy=diffusion_image", "epochs=1", "eval_every=0",
                   "max_train_steps=2", "hydra.run.dir=ft2", cwd=tmp_path)
    assert res.returncode != 0 and "the policy config differs from the checkpoint's" in res.stderr and "image_pool" in res.stderr


def lerobot_weights_line(model):
    """The line policy's weights in LeRobot's layout: one shared encoder, per-step features [state (2), top (8)] as robopref has them."""
    out = {}
    for key, value in model.unet.state_dict().items():
        out["diffusion.unet." + key.replace(".blocks.0.block.", ".conv1.block.").replace(".blocks.1.block.", ".conv2.block.")] = value
    enc = model.obs_encoder.encoders["top_image"]
    names = {"conv1": "0", "bn1": "1", "layer1": "4", "layer2": "5", "layer3": "6", "layer4": "7"}
    for key, value in enc.backbone.state_dict().items():
        head, _, rest = key.partition(".")
        out[f"diffusion.rgb_encoder.backbone.{names[head]}.{rest}"] = value
    out["diffusion.rgb_encoder.pool.nets.weight"], out["diffusion.rgb_encoder.pool.nets.bias"] = enc.keypoints[0].weight, enc.keypoints[0].bias
    out["diffusion.rgb_encoder.out.weight"], out["diffusion.rgb_encoder.out.bias"] = enc.head[0].weight, enc.head[0].bias
    return out


@pytest.mark.parametrize("override, message", [
    ({"type": "act"}, "a LeRobot 'act' policy; robopref imports LeRobot's diffusion policy"),
    ({"vision_backbone": "resnet34"}, "vision_backbone='resnet34': robopref imports the resnet18 backbone only"),
    ({"resize_shape": [48, 48]}, r"resize_shape=\[48, 48\]: resizing inside the policy is not supported"),
    ({"crop_shape": [53, 53]}, r"crop_shape=\[53, 53\] of camera 'observation.images.top' \(64 x 64\): robopref's crop_ratio would crop another"),
    ({"n_groups": 4}, "n_groups=4: LeRobot's last block always uses 8 groups"),
    ({"clip_sample_range": 2.0}, r"clip_sample_range=2.0: robopref clips samples to \[-1, 1\]"),
    ({"normalization_mapping": {"VISUAL": "MEAN_STD", "STATE": "LOG", "ACTION": "MIN_MAX"}}, "gives observation.state the mode 'LOG'"),
])
def test_policies_robopref_would_run_differently_are_refused(tmp_path, override, message):
    ckpt = read_lerobot_policy(write_lerobot_policy(tmp_path / "p", source_policy(), **override))
    with pytest.raises(ValueError, match=message):
        import_lerobot_policy(ckpt, where="p")


def test_bad_sources_and_names_are_reported(tmp_path):
    res = robopref("convert", "format=lerobot_policy", "source=missing", "hydra.run.dir=a", cwd=tmp_path)
    assert res.returncode != 0 and "source=missing: no such LeRobot policy folder" in res.stderr
    (tmp_path / "empty").mkdir()
    res = robopref("convert", "format=lerobot_policy", "source=empty", "hydra.run.dir=b", cwd=tmp_path)
    assert res.returncode != 0 and "not a LeRobot policy folder (expected config.json and model.safetensors in it or in its pretrained_model/)" in res.stderr
    folder = write_lerobot_policy(tmp_path / "p", source_policy())
    res = robopref("convert", "format=lerobot_policy", "source=p", "obs_map={observation.images.top: top}", "hydra.run.dir=c", cwd=tmp_path)
    assert res.returncode != 0 and "cameras must map to names ending in _image" in res.stderr and "observation.images.top -> top" in res.stderr
    res = robopref("convert", "format=lerobot_policy", "source=p", "obs_map={observation.images.side: side_image}", "hydra.run.dir=d", cwd=tmp_path)
    assert res.returncode != 0 and "obs_map: ['observation.images.side'] are not input features of the policy" in res.stderr
    for name in ("policy_preprocessor.json", "policy_postprocessor.json"):
        (folder / name).unlink()
    with pytest.raises(ValueError, match="no normalisation statistics"):
        read_lerobot_policy(folder)
    blob = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(blob[: 8 + int.from_bytes(blob[:8], "little") + 100])  # cut short after the header
    with pytest.raises(ValueError, match=r"model.safetensors: tensor '.*' .* data_offsets .* \(a truncated file\?\)"):
        read_lerobot_policy(folder)


def test_info_shows_a_lerobot_policy_and_the_convert_command(tmp_path):
    from robopref.info import describe

    info = describe(write_lerobot_policy(tmp_path / "p", source_policy()))
    assert info["kind"] == "LeRobot policy" and info["policy"] == "diffusion" and info["features"]["observation.images.arm"] == "VISUAL [3, 64, 64]"
    assert info["robopref keys"] == {"observation.state": "state", "observation.images.top": "top_image", "observation.images.arm": "arm_image"}
    assert info["import"] == f"robopref convert format=lerobot_policy source={tmp_path / 'p'} output=<name>.ckpt"
    info = describe(write_lerobot_policy(tmp_path / "q", source_policy(), resize_shape=[48, 48]))
    assert info["import"].startswith("not importable: config.json resize_shape=[48, 48]")


def test_a_hub_id_is_found_in_the_hugging_face_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    repo = tmp_path / "hub" / "models--lerobot--diffusion_pusht"
    write_lerobot_policy(repo / "snapshots" / "abc123", source_policy())
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    assert read_lerobot_policy("lerobot/diffusion_pusht").folder == repo / "snapshots" / "abc123"
    assert read_lerobot_policy("lerobot/diffusion_pusht@abc123").folder == repo / "snapshots" / "abc123"
    with pytest.raises(FileNotFoundError, match="not in the Hugging Face cache .*huggingface-cli download lerobot/diffusion_other"):
        read_lerobot_policy("lerobot/diffusion_other")


def test_an_imported_policy_can_sample_in_bfloat16(tmp_path):
    write_line_folder(tmp_path / "lr")
    res = robopref("convert", "format=lerobot_policy", "source=lr", "output=bf16.ckpt", "inference_dtype=bfloat16", "hydra.run.dir=conv", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert json.loads((tmp_path / "conv" / "summary.json").read_text())["inference_dtype"] == "bfloat16"
    policy = load_policy(tmp_path / "conv" / "bf16.ckpt", device="cpu")
    assert policy.model.cfg.inference_dtype == "bfloat16" and policy.model.chunk_sampler.weights_dtype == torch.bfloat16
    out = robopref("eval", "policy=conv/bf16.ckpt", *LINE, "episodes=1", "workers=1", "videos=0", "hydra.run.dir=ev", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
