"""Checkpoints give identical predictions after loading; weight-file error paths."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from robopref.policies import DiffusionPolicy, EMAModel, Normalizer, PolicyShapes, ResNet18Encoder, load_policy, load_torchvision_state_dict, read_checkpoint, save_checkpoint
from robopref.policies.checkpoint import build_model
from robopref.policies.vision import ResNet18
from tests.policies.conftest import tiny_config


def _model(image: bool = True) -> DiffusionPolicy:
    torch.manual_seed(0)
    images = {"top_image": (16, 16, 3)} if image else {}
    shapes = PolicyShapes(action_dim=2, low_dim={"state": 3}, images=images)
    norm = Normalizer.fit_arrays({"action": np.array([[-2.0, 0.0], [2.0, 10.0]]), "state": np.array([[0.0, 0, 0], [1, 1, 1]])})
    return DiffusionPolicy(tiny_config(image_keys=list(images)), shapes, norm)


def _obs(b: int = 1) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return {"state": torch.rand(b, 2, 3, generator=g), "top_image": torch.randint(0, 255, (b, 2, 16, 16, 3), generator=g, dtype=torch.uint8)}


def test_save_load_gives_identical_predictions(tmp_path):
    model = _model()
    ema = EMAModel(model)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01)  # so the model and EMA weights differ
    path = save_checkpoint(tmp_path / "p.ckpt", model, ema.state_dict(), meta={"note": "x"})
    ckpt = read_checkpoint(path)
    assert ckpt["policy_config"]["horizon"] == 8 and ckpt["shapes"]["images"]["top_image"] == [16, 16, 3] and ckpt["meta"]["note"] == "x"
    for weights, reference in (("model", model), ("ema", ema.averaged)):
        loaded = build_model(ckpt, weights=weights)
        reference.eval()
        a = reference.predict_action(_obs(3), generator=torch.Generator().manual_seed(5))
        b = loaded.predict_action(_obs(3), generator=torch.Generator().manual_seed(5))
        assert torch.equal(a, b)
    # the normaliser travels with the checkpoint: outputs are in dataset units
    policy = load_policy(path, device="cpu", seed=3)
    obs = {"state": np.zeros(3, np.float32), "top_image": np.zeros((16, 16, 3), np.uint8)}
    first = [policy.act(obs) for _ in range(6)]
    policy.reset(seed=3)
    assert all(np.array_equal(x, y) for x, y in zip(first, [policy.act(obs) for _ in range(6)]))
    assert all(-2 <= a[0] <= 2 and 0 <= a[1] <= 10 for a in first)


def test_checkpoint_error_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_policy(tmp_path / "missing.ckpt")
    torch.save({"format": "something/else"}, tmp_path / "other.ckpt")
    with pytest.raises(ValueError, match="not a robopref diffusion policy checkpoint"):
        load_policy(tmp_path / "other.ckpt")
    (tmp_path / "garbage.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot be read"):
        read_checkpoint(tmp_path / "garbage.ckpt")


def test_torchvision_state_dict_loading(tmp_path):
    reference = ResNet18(norm="batch")
    sd = {**reference.state_dict(), "fc.weight": torch.zeros(1000, 512), "fc.bias": torch.zeros(1000)}
    torch.save({"state_dict": {f"module.{k}": v for k, v in sd.items()}}, tmp_path / "resnet18.pth")
    loaded = load_torchvision_state_dict(tmp_path / "resnet18.pth")
    assert "fc.weight" in loaded and "layer4.1.conv2.weight" in loaded
    for norm in ("group", "batch"):
        enc = ResNet18Encoder(out_dim=32, norm=norm, weights=str(tmp_path / "resnet18.pth"))
        assert torch.equal(enc.backbone.layer3[0].downsample[0].weight, reference.layer3[0].downsample[0].weight)
        assert enc(torch.rand(2, 3, 40, 40)).shape == (2, 32)
    bn = ResNet18Encoder(out_dim=None, norm="batch", weights=str(tmp_path / "resnet18.pth"))
    assert torch.equal(bn.backbone.bn1.running_var, reference.bn1.running_var) and bn.out_dim == 512


def test_torchvision_state_dict_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="never downloads weights"):
        load_torchvision_state_dict(tmp_path / "nope.pth")
    sd = ResNet18(norm="batch").state_dict()
    sd["layer1.0.conv1.weight"] = torch.zeros(64, 64, 5, 5)
    del sd["layer4.1.bn2.weight"]
    torch.save(sd, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match=r"1 missing key\(s\) \['layer4.1.bn2.weight'\], 1 shape mismatch\(es\) \['layer1.0.conv1.weight"):
        load_torchvision_state_dict(tmp_path / "bad.pth")
    torch.save([1, 2, 3], tmp_path / "list.pth")
    with pytest.raises(ValueError, match="expected a dict of tensors"):
        load_torchvision_state_dict(tmp_path / "list.pth")
    (tmp_path / "text.pth").write_text("hello")
    with pytest.raises(ValueError, match="cannot be read as a torch state dict"):
        load_torchvision_state_dict(tmp_path / "text.pth")
