"""Image encoders in plain torch: ResNet-18 (GroupNorm or BatchNorm) and a small CNN.

torchvision has no CPU build on the lab machines (its import fails), so the ResNet is
written here with torchvision's module names; torchvision-format weights (e.g.
``resnet18-f37072fd.pth``) load from a local file with :func:`load_torchvision_state_dict`.
Diffusion Policy replaces BatchNorm by GroupNorm (BatchNorm statistics drift under EMA
and small batches); ``norm="batch"`` keeps torchvision's exact architecture for reward
models that want pretrained statistics. Also used by the visual reward (RAPL) encoder.
"""

from __future__ import annotations

import os
from typing import Literal, Mapping, Sequence

import torch
from torch import nn

from robopref.policies.config import IMAGE_ENCODERS, IMAGE_POOLS
from robopref.policies.keypoints import KeypointEncoder, SpatialSoftmax

Norm = Literal["group", "batch"]
RESNET18_LAYERS = (2, 2, 2, 2)
RESNET18_FEATURE_DIM = 512


def _norm(kind: Norm, channels: int) -> nn.Module:
    # 16 channels per group, as in diffusion_policy's replace_bn_with_gn.
    return nn.GroupNorm(max(1, channels // 16), channels) if kind == "group" else nn.BatchNorm2d(channels)


class BasicBlock(nn.Module):
    """torchvision's ResNet BasicBlock (two 3×3 convs, identity or 1×1 shortcut)."""

    def __init__(self, inplanes: int, planes: int, stride: int, norm: Norm) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = _norm(norm, planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = _norm(norm, planes)
        self.downsample: nn.Module | None = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), _norm(norm, planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ResNet18(nn.Module):
    """ResNet-18 trunk with torchvision's parameter names, ending in global average pooling (512 features)."""

    def __init__(self, norm: Norm = "group", in_channels: int = 3) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
        self.bn1 = _norm(norm, 64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        inplanes = 64
        for i, (planes, blocks) in enumerate(zip((64, 128, 256, 512), RESNET18_LAYERS)):
            stride = 1 if i == 0 else 2
            layer = [BasicBlock(inplanes, planes, stride, norm)] + [BasicBlock(planes, planes, 1, norm) for _ in range(blocks - 1)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*layer))
            inplanes = planes
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.avgpool(self.features(x)), 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last stage's feature maps (B, 512, H/32, W/32), before pooling."""
        x = self.relu(self.bn1(self.conv1(x)))
        if x.is_cpu:
            # On a CPU, max-pool channels-last (4-5x faster than torch's NCHW kernel, conversions
            # included), then run the four stages on NCHW memory. Camera frames arrive as HWC, so
            # the policy's input is channels-last in memory and, left alone, so would be every
            # stage: 3x slower at 2 frames (the policy's batch-1 call). The result is the same.
            x = self.maxpool(x.contiguous(memory_format=torch.channels_last)).contiguous()
        else:
            x = self.maxpool(x)
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


class ResNet18Encoder(nn.Module):
    """Images (B, C, H, W) in [0, 1] → features (B, out_dim): ResNet-18 trunk + linear head.

    Args:
        out_dim: feature size; ``None`` returns the pooled trunk features (512, or the
            ``2 * keypoints`` coordinates with the spatial softmax).
        norm: ``"group"`` (GroupNorm, Diffusion Policy's choice) or ``"batch"`` (torchvision's).
        weights: optional path to a torchvision-format ResNet-18 state dict to start from.
        in_channels: image channels.
        pool: ``"avg"`` (global average pooling, torchvision's) or ``"spatial_softmax"``: a 1×1
            convolution makes ``keypoints`` maps of the last stage, each read out as its expected
            (x, y), and the head is linear + ReLU (LeRobot's ``DiffusionRgbEncoder``, robomimic's pooling).
        keypoints: the spatial softmax's number of keypoints.
    """

    def __init__(self, out_dim: int | None = 64, norm: Norm = "group", weights: str | None = None, in_channels: int = 3,
                 pool: str = "avg", keypoints: int = 32) -> None:
        super().__init__()
        if norm not in ("group", "batch"):
            raise ValueError(f"norm={norm!r}: expected 'group' or 'batch'")
        if pool not in IMAGE_POOLS or keypoints < 1:
            raise ValueError(f"pool={pool!r}, keypoints={keypoints}: expected a pool in {list(IMAGE_POOLS)} and keypoints >= 1")
        self.norm = norm
        self.backbone = ResNet18(norm=norm, in_channels=in_channels)
        self.keypoints: nn.Module | None = None
        pooled = RESNET18_FEATURE_DIM
        if pool == "spatial_softmax":
            self.keypoints = nn.Sequential(nn.Conv2d(RESNET18_FEATURE_DIM, keypoints, 1), SpatialSoftmax())
            pooled = 2 * keypoints
        self.head: nn.Module = nn.Identity()
        if out_dim:
            self.head = nn.Linear(pooled, out_dim) if pool == "avg" else nn.Sequential(nn.Linear(pooled, out_dim), nn.ReLU())
        self.out_dim = out_dim or pooled
        if weights:
            self.load_backbone(load_torchvision_state_dict(weights))

    def load_backbone(self, state_dict: Mapping[str, torch.Tensor]) -> list[str]:
        """Load torchvision ResNet-18 weights into the trunk; returns the names loaded.

        The classifier (``fc.*``) is dropped. With ``norm="group"`` the BatchNorm
        parameters and statistics are not used (GroupNorm keeps its own), only convolutions.
        """
        own = self.backbone.state_dict()
        keep = {}
        for k, v in state_dict.items():
            if k.startswith("fc.") or k not in own:
                continue
            if self.norm == "group" and not _is_conv_weight(k):
                continue
            keep[k] = v
        missing_convs = [k for k in own if _is_conv_weight(k) and k not in keep]
        if missing_convs:
            raise ValueError(f"ResNet-18 weights lack convolution weights {missing_convs[:4]} ...; not a torchvision resnet18 state dict")
        self.backbone.load_state_dict(keep, strict=False)
        return sorted(keep)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.keypoints is not None:
            return self.head(self.keypoints(self.backbone.features(x)))
        return self.head(self.backbone(x))


def _is_conv_weight(name: str) -> bool:
    return name.startswith("conv1.") or ".conv" in name or ".downsample.0." in name


def load_torchvision_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a torchvision-format ResNet-18 state dict from a local file (no downloads).

    Accepts a bare state dict or one wrapped as ``{"state_dict": ...}`` / ``{"model": ...}``
    (with an optional ``module.`` prefix from DataParallel). Raises FileNotFoundError
    with a hint when the file is missing and ValueError naming the offending keys when
    the tensors do not have ResNet-18's names and shapes.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"ResNet-18 weights file {path!r} does not exist. robopref never downloads weights: copy a torchvision "
            "resnet18 .pth (e.g. resnet18-f37072fd.pth) onto this machine and pass its path, or use weights=null to train from scratch."
        )
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle errors, truncated files, non-torch files
        raise ValueError(f"{path}: cannot be read as a torch state dict ({type(e).__name__}: {e})") from e
    for wrapper in ("state_dict", "model"):
        if isinstance(obj, dict) and wrapper in obj and isinstance(obj[wrapper], dict):
            obj = obj[wrapper]
    if not isinstance(obj, dict) or not all(torch.is_tensor(v) for v in obj.values()):
        raise ValueError(f"{path}: expected a dict of tensors (a state dict), got {type(obj).__name__}")
    sd = {k.removeprefix("module."): v for k, v in obj.items()}
    reference = ResNet18(norm="batch").state_dict()
    missing = [k for k in reference if k not in sd]
    mismatched = [f"{k}: {tuple(sd[k].shape)} != {tuple(v.shape)}" for k, v in reference.items() if k in sd and sd[k].shape != v.shape]
    if missing or mismatched:
        raise ValueError(
            f"{path}: not a torchvision ResNet-18 state dict; "
            f"{len(missing)} missing key(s) {missing[:4]}, {len(mismatched)} shape mismatch(es) {mismatched[:4]}"
        )
    return sd


class SmallCNNEncoder(nn.Module):
    """A 4-layer strided CNN with GroupNorm: a fast image encoder for small images and quick runs."""

    def __init__(self, out_dim: int = 64, channels: Sequence[int] = (32, 64, 128, 128), in_channels: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = in_channels
        for c in channels:
            layers += [nn.Conv2d(c_in, c, 3, 2, 1), nn.GroupNorm(max(1, c // 16), c), nn.Mish()]
            c_in = c
        self.trunk = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(c_in, out_dim)
        self.out_dim = out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x))


def make_image_encoder(kind: str, out_dim: int | None, norm: Norm = "group", weights: str | None = None,
                       pool: str = "avg", keypoints: int = 32) -> nn.Module:
    """``kind`` = ``resnet18``, ``small_cnn`` or ``keypoints`` (:mod:`robopref.policies.keypoints`);
    each takes (B, 3, H, W) images and returns (B, out_dim); ``out_dim=None``: resnet18's pooled
    features, no head (the other encoders need a size). ``pool`` and ``keypoints``: resnet18's
    pooling (:class:`ResNet18Encoder`)."""
    if kind not in IMAGE_ENCODERS:
        raise ValueError(f"image encoder {kind!r}: expected one of {list(IMAGE_ENCODERS)}")
    if kind == "resnet18":
        return ResNet18Encoder(out_dim=out_dim, norm=norm, weights=weights, pool=pool, keypoints=keypoints)
    if pool != "avg":
        raise ValueError(f"encoder={kind}: pool={pool!r} is resnet18's option; the {kind} encoder pools its own way")
    if weights:
        raise ValueError(f"encoder={kind} has no pretrained weights; weights must be null")
    return KeypointEncoder(out_dim=out_dim) if kind == "keypoints" else SmallCNNEncoder(out_dim=out_dim)


class RandomCrop(nn.Module):
    """Random crop per sample in training, centre crop in eval (Diffusion Policy's augmentation).

    Works on (N, C, H, W); the crop offsets come from torch's global RNG so a seeded run
    (and a resumed one, which restores the RNG state) is repeatable.
    """

    def __init__(self, height: int, width: int) -> None:
        super().__init__()
        self.height, self.width = height, width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        if (h, w) == (self.height, self.width):
            return x
        if h < self.height or w < self.width:
            raise ValueError(f"crop {self.height}x{self.width} is larger than the image {h}x{w}")
        if not self.training:
            top, left = (h - self.height) // 2, (w - self.width) // 2
            return x[:, :, top : top + self.height, left : left + self.width]
        tops = torch.randint(0, h - self.height + 1, (n,))
        lefts = torch.randint(0, w - self.width + 1, (n,))
        rows = (tops[:, None] + torch.arange(self.height)[None]).to(x.device)  # (n, ch)
        cols = (lefts[:, None] + torch.arange(self.width)[None]).to(x.device)  # (n, cw)
        idx_n = torch.arange(n, device=x.device)[:, None, None]
        out = x.permute(0, 2, 3, 1)[idx_n, rows[:, :, None], cols[:, None, :]]  # (n, ch, cw, C)
        return out.permute(0, 3, 1, 2).contiguous()
