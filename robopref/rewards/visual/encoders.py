"""The image encoder φ of the visual rewards: a trunk from :mod:`robopref.policies.vision`
(ResNet-18 with GroupNorm/BatchNorm and torchvision weight loading, or the small CNN),
the 32-dim linear head, frame preprocessing, and which parameters RAPL trains.

RAPL fine-tunes only the last stage of the trunk and the head (or, with
``set_trainable("projection")``, only a linear map of the embedding). Everything before
the trained part is frozen, so :meth:`FrameEncoder.frozen` features are computed once per
frame and training runs only :meth:`FrameEncoder.tail` on them: most of the cost of a
step disappears, which is what makes alignment practical on two CPU cores.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterator

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from robopref.policies.vision import ResNet18Encoder, SmallCNNEncoder
from robopref.utils.checks import check_at_least

TRAINABLE = ("last", "projection")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class EncoderConfig:
    """Which encoder, and how frames are prepared for it.

    ``kind``: ``small_cnn`` (fast) or ``resnet18``; ``weights``: a local torchvision-format
    ResNet-18 state dict (``resnet18`` only; None trains from scratch / self-supervised);
    ``image_size``: frames are resized to this square size; ``out_dim``: the head's size;
    ``channels``: the small CNN's four conv widths; ``projection``: whether the encoder ends
    in a learned linear map of its embedding (see :meth:`FrameEncoder.set_trainable`). The
    small defaults (32×32 frames, widths 32-64-64-64) are what makes scoring 1,000 rollouts
    fast on two CPU cores.
    """

    kind: str = "small_cnn"
    out_dim: int = 32
    norm: str = "group"
    weights: str | None = None
    image_size: int = 32
    channels: tuple[int, ...] = (32, 64, 64, 64)
    projection: bool = False  # an out_dim × out_dim linear map after the head (RAPL's align.trainable=projection adds it)

    def __post_init__(self) -> None:
        if self.kind not in ("small_cnn", "resnet18"):
            raise ValueError(f"reward.encoder.kind={self.kind!r}: expected 'small_cnn' or 'resnet18'")
        if self.kind == "small_cnn" and self.weights:
            raise ValueError("reward.encoder.weights: the small_cnn has no pretrained weights; set weights to null or use kind=resnet18")
        if self.norm not in ("group", "batch"):
            raise ValueError(f"reward.encoder.norm={self.norm!r}: expected 'group' or 'batch' (the ResNet-18's normalisation; the small CNN always uses GroupNorm)")
        check_at_least("reward.encoder", self, 1, "out_dim")
        check_at_least("reward.encoder", self, 8, "image_size")
        if not self.channels or any(int(c) < 1 for c in self.channels):
            raise ValueError(f"reward.encoder.channels={list(self.channels)}: expected one or more conv widths >= 1")


class FrameEncoder(nn.Module):
    """uint8 frames (N, H, W, 3) → features (N, out_dim), split into a frozen front and a trainable tail."""

    def __init__(self, cfg: EncoderConfig) -> None:
        super().__init__()
        self.cfg = replace(cfg)  # its own copy: adding a projection must not change the caller's config
        if cfg.kind == "resnet18":
            net = ResNet18Encoder(out_dim=cfg.out_dim, norm=cfg.norm, weights=cfg.weights)  # type: ignore[arg-type]
            b = net.backbone
            self.front = nn.Sequential(b.conv1, b.bn1, b.relu, b.maxpool, b.layer1, b.layer2, b.layer3)
            self.last = nn.Sequential(b.layer4, b.avgpool, nn.Flatten())
            self.head = net.head
        else:  # small_cnn (EncoderConfig checks the kind; replace() above re-checks a changed config)
            net = SmallCNNEncoder(out_dim=cfg.out_dim, channels=tuple(cfg.channels))
            layers = list(net.trunk)  # [conv, norm, act] × 4, pool, flatten
            self.front = nn.Sequential(*layers[:-5])
            self.last = nn.Sequential(*layers[-5:])
            self.head = net.head
        self.projection: nn.Linear | None = None
        if cfg.projection:
            self._add_projection()
        self.trainable = "last"
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    @property
    def device(self) -> torch.device:
        return self.head.weight.device if isinstance(self.head, nn.Linear) else next(self.parameters()).device

    def preprocess(self, frames: torch.Tensor | np.ndarray) -> torch.Tensor:
        """uint8 (N, H, W, 3) → normalised float (N, 3, S, S) on the encoder's device."""
        x = torch.as_tensor(np.asarray(frames) if not torch.is_tensor(frames) else frames).to(self.device)
        x = x.permute(0, 3, 1, 2).float().div_(255.0).contiguous()  # NCHW in memory: pooling on the permuted view is slow
        s = self.cfg.image_size
        h, w = x.shape[-2:]
        if (h, w) != (s, s):
            if h == w and h % s == 0:  # integer factor: box filter, an exact anti-aliased downsample and ~10× cheaper
                x = F.avg_pool2d(x, h // s)
            else:
                x = F.interpolate(x, size=(s, s), mode="bilinear", align_corners=False, antialias=True)
        return (x - self.mean) / self.std

    def _add_projection(self) -> None:
        self.projection = nn.Linear(self.cfg.out_dim, self.cfg.out_dim, bias=False)
        nn.init.eye_(self.projection.weight)  # starts as the identity: the same embedding as without it
        self.cfg.projection = True

    def set_trainable(self, part: str) -> None:
        """Which part RAPL trains: ``last`` (the last stage, the head and the projection if
        there is one; the paper) or ``projection`` (only a linear map of the embedding,
        added as the identity if the encoder has none: a learned metric for the OT cost on
        an otherwise frozen encoder). :meth:`frozen`, :meth:`tail` and
        :meth:`trainable_parameters` follow it."""
        if part not in TRAINABLE:
            raise ValueError(f"trainable part {part!r}: expected one of {TRAINABLE}")
        if part == "projection" and self.projection is None:
            self._add_projection()
        self.trainable = part

    def _stem(self, x: torch.Tensor) -> torch.Tensor:
        """The frozen part of the network on preprocessed frames."""
        x = self.front(x)
        return self.head(self.last(x)) if self.trainable == "projection" else x

    def tail(self, feats: torch.Tensor) -> torch.Tensor:
        """The trainable part, on outputs of :meth:`frozen`: last stage, head and projection
        (``trainable == "last"``), or the projection alone."""
        if self.trainable != "projection":
            feats = self.head(self.last(feats))
        return feats if self.projection is None else self.projection(feats)

    def tail_modules(self) -> list[nn.Module]:
        """The modules :meth:`tail` trains (put in train mode while RAPL aligns)."""
        if self.trainable == "projection":
            return [self.projection]  # type: ignore[list-item]
        return [m for m in (self.last, self.head, self.projection) if m is not None]

    def forward(self, frames: torch.Tensor | np.ndarray) -> torch.Tensor:
        return self.tail(self._stem(self.preprocess(frames)))

    @torch.no_grad()
    def frozen(self, frames: torch.Tensor | np.ndarray, batch_size: int = 512) -> torch.Tensor:
        """Features of many frames before the trainable part, in batches, without gradients."""
        return torch.cat([self._stem(self.preprocess(frames[i : i + batch_size])) for i in range(0, len(frames), batch_size)])

    @torch.no_grad()
    def encode(self, frames: torch.Tensor | np.ndarray, batch_size: int = 512) -> torch.Tensor:
        """Full features of many frames, in batches, without gradients."""
        return torch.cat([self(frames[i : i + batch_size]) for i in range(0, len(frames), batch_size)])

    def trainable_parameters(self) -> Iterator[nn.Parameter]:
        """What RAPL aligns: the modules of :meth:`tail_modules`."""
        for m in self.tail_modules():
            yield from m.parameters()

    def freeze_front(self) -> None:
        """Freeze everything but :meth:`tail_modules` (and put the frozen part in eval mode)."""
        trained = {id(p) for p in self.trainable_parameters()}
        for p in self.parameters():
            p.requires_grad_(id(p) in trained)
        self.eval()
