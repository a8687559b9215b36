"""The visual reward's encoder: ResNet-18 state-dict loading (success and error paths),
which parameters RAPL trains, frame preprocessing, and the model's save/load round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from robopref.policies.vision import ResNet18
from robopref.rewards.visual.encoders import EncoderConfig, FrameEncoder
from robopref.rewards.visual.model import VisualRewardModel, reward_head


def _torchvision_file(path, **changes) -> str:
    """A torchvision-format ResNet-18 state dict (with the 1000-class ``fc``), optionally altered."""
    sd = {**ResNet18(norm="batch").state_dict(), "fc.weight": torch.zeros(1000, 512), "fc.bias": torch.zeros(1000)}
    for k, v in changes.items():
        k = k.replace("__", ".")
        if v is None:
            sd.pop(k)
        else:
            sd[k] = v
    torch.save(sd, path)
    return str(path)


def test_resnet18_loads_torchvision_weights(tmp_path):
    path = _torchvision_file(tmp_path / "resnet18.pth")
    reference = torch.load(path)
    enc = FrameEncoder(EncoderConfig(kind="resnet18", norm="batch", weights=path, image_size=48))
    torch.testing.assert_close(enc.last[0][1].conv2.weight, reference["layer4.1.conv2.weight"])
    torch.testing.assert_close(enc.front[0].weight, reference["conv1.weight"])
    torch.testing.assert_close(enc.front[1].running_mean, reference["bn1.running_mean"])
    frames = np.random.default_rng(0).integers(0, 255, (3, 64, 64, 3), dtype=np.uint8)
    assert enc.eval()(frames).shape == (3, 32)
    gn = FrameEncoder(EncoderConfig(kind="resnet18", norm="group", weights=path))
    torch.testing.assert_close(gn.front[4][0].conv1.weight, reference["layer1.0.conv1.weight"])


def test_resnet18_weight_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="never downloads weights"):
        FrameEncoder(EncoderConfig(kind="resnet18", weights=str(tmp_path / "missing.pth")))
    missing = _torchvision_file(tmp_path / "missing_key.pth", layer4__1__conv2__weight=None)
    with pytest.raises(ValueError, match=r"missing key\(s\) \['layer4.1.conv2.weight'\]"):
        FrameEncoder(EncoderConfig(kind="resnet18", weights=missing))
    wrong = _torchvision_file(tmp_path / "wrong_shape.pth", conv1__weight=torch.zeros(64, 1, 7, 7))
    with pytest.raises(ValueError, match=r"shape mismatch.*conv1.weight"):
        FrameEncoder(EncoderConfig(kind="resnet18", weights=wrong))
    (tmp_path / "garbage.pth").write_bytes(b"not torch")
    with pytest.raises(ValueError, match="cannot be read"):
        FrameEncoder(EncoderConfig(kind="resnet18", weights=str(tmp_path / "garbage.pth")))
    with pytest.raises(ValueError, match="no pretrained weights"):
        FrameEncoder(EncoderConfig(kind="small_cnn", weights=str(tmp_path / "garbage.pth")))
    with pytest.raises(ValueError, match="expected 'small_cnn' or 'resnet18'"):
        FrameEncoder(EncoderConfig(kind="vit"))


@pytest.mark.parametrize("kind", ["small_cnn", "resnet18"])
def test_only_last_stage_and_head_train(kind):
    enc = FrameEncoder(EncoderConfig(kind=kind, image_size=32))
    enc.freeze_front()
    frames = torch.randint(0, 255, (4, 40, 40, 3), dtype=torch.uint8)
    enc(frames).sum().backward()
    trainable = {id(p) for p in enc.trainable_parameters()}
    assert trainable and all(p.grad is None for p in enc.front.parameters())
    assert all(p.grad is not None for p in enc.parameters() if id(p) in trainable)
    # the frozen/tail split computes the same features as the whole encoder
    enc.eval()
    torch.testing.assert_close(enc.tail(enc.frozen(frames)), enc.encode(frames))


def test_model_save_load_round_trip(tmp_path):
    torch.manual_seed(0)
    videos = [np.random.default_rng(i).integers(0, 255, (n, 32, 32, 3), dtype=np.uint8) for i, n in enumerate((7, 12))]
    enc = FrameEncoder(EncoderConfig(kind="small_cnn", image_size=32)).eval()
    rapl = VisualRewardModel("rapl", enc, {"eps": 0.05, "sinkhorn_iters": 50, "frames": 5}, references=torch.randn(3, 5, 32), meta={"a": 1})
    rlhf = VisualRewardModel("rlhf_visual", enc, {"eps": 0.05, "sinkhorn_iters": 50, "frames": 5}, head=reward_head(enc.head.in_features, 16))
    for model in (rapl, rlhf):
        path = model.save(tmp_path / f"{model.kind}.pt", extra={"labels": 9})
        loaded = VisualRewardModel.load(path)
        before, after = model.frame_rewards(videos), loaded.frame_rewards(videos)
        assert [len(r) for r in after] == [7, 12]
        for x, y in zip(before, after):
            np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
        assert loaded.meta["labels"] == 9 and loaded.kind == model.kind
    # batching many rollouts of different lengths gives each rollout's own rewards
    alone = rapl.frame_rewards(videos[:1])[0]
    np.testing.assert_allclose(rapl.frame_rewards(videos)[0], alone, rtol=1e-4, atol=1e-5)
    with pytest.raises(FileNotFoundError):
        VisualRewardModel.load(tmp_path / "nope.pt")
    torch.save({"format": "other"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a robopref visual reward"):
        VisualRewardModel.load(tmp_path / "other.pt")
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot be read"):
        VisualRewardModel.load(tmp_path / "garbage.pt")
