"""The visual rewards as ``reward`` stage recipes (``conf/reward/rapl.yaml``,
``conf/reward/rlhf_visual.yaml``): fit from the store's labels, evaluate against the
ground truth on held-out episodes, predict per-step rewards to relabel a dataset.

Both recipes start from the same encoder: ImageNet weights from a local file when given
(``encoder.weights``), a previous encoder (``init_encoder``), or a short time-contrastive
pre-training on the task's unlabelled videos, so the comparison RAPL vs RLHF is about
how the labels are spent, not about the backbone.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np
import torch

from robopref.data.dataset import Dataset
from robopref.data.pool import DatasetPool
from robopref.data.sampling import sample_pairs, whole_episodes
from robopref.data.segments import SegmentRef
from robopref.eval.preference_metrics import preference_accuracy, return_correlations
from robopref.prefs import PreferenceStore
from robopref.rewards.evaluation import MIN_HELDOUT_EPISODES
from robopref.rewards.preferences import Comparison, datasets_of
from robopref.rewards.visual.data import comparisons_with_frames, episodes_of, heldout_episodes, preferred_videos, ranked_triplets, unlabelled_videos
from robopref.rewards.visual.encoders import EncoderConfig, FrameEncoder
from robopref.rewards.visual.frames import read_videos
from robopref.rewards.visual.model import VisualRewardModel, reward_head
from robopref.rewards.visual.pretrain import PretrainConfig, pretrain_time_contrastive
from robopref.rewards.visual.rapl import AlignConfig, align_encoder
from robopref.rewards.visual.rlhf import BTConfig, train_bt_head
from robopref.teachers.returns import segment_returns
from robopref.utils.checks import check_at_least, check_positive

log = logging.getLogger(__name__)

REFERENCE_MODES = ("best", "mean")


@dataclass
class VisualFitHistory:
    """What a visual fit did: pre-training losses, then the alignment/BT history."""

    pretrain_loss: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    epochs_run: int = 0
    labels: int = 0


def _config(cls: type, value: Any, name: str) -> Any:
    if isinstance(value, cls):
        return value
    valid = set(cls.__dataclass_fields__)
    unknown = sorted(set(value or {}) - valid)
    if unknown:
        raise ValueError(f"reward.{name}: unknown key(s) {unknown}; valid keys: {sorted(valid)}")
    return cls(**(value or {}))


def build_encoder(enc: EncoderConfig, pre: PretrainConfig, pool: DatasetPool, datasets: Sequence[str], seed: int,
                  init_encoder: str | None, pretrain_videos: int, camera: str | None, progress: bool = False) -> tuple[FrameEncoder, list[float]]:
    """The starting encoder: the encoder of the visual reward saved at ``init_encoder``, else
    ImageNet weights (``enc.weights``), else time-contrastive pre-training."""
    torch.manual_seed(seed)
    if init_encoder:  # its own architecture and weights: the saved model's encoder config wins
        return VisualRewardModel.load(init_encoder).encoder.eval(), []
    encoder = FrameEncoder(enc)
    if enc.weights:
        return encoder.eval(), []
    videos = unlabelled_videos(pool, datasets, pretrain_videos, np.random.default_rng(seed), camera)
    return encoder, pretrain_time_contrastive(encoder, videos, pre, seed, progress)


class VisualRewardRecipe:
    """Shared parts of the RAPL and RLHF-visual recipes (encoder set-up, evaluation, relabelling)."""

    kind = ""

    def __init__(self, encoder: Any = None, pretrain: Any = None, frames: int = 24, eps: float = 0.05, sinkhorn_iters: int = 50,
                 camera: str | None = None, init_encoder: str | None = None, pretrain_videos: int = 200,
                 plot_ot_plan: bool = False) -> None:
        self.encoder_cfg = _config(EncoderConfig, encoder, "encoder")
        self.pretrain_cfg = _config(PretrainConfig, pretrain, "pretrain")
        self.frames, self.eps, self.sinkhorn_iters = int(frames), float(eps), int(sinkhorn_iters)
        self.camera, self.init_encoder, self.pretrain_videos = camera, init_encoder, int(pretrain_videos)
        self.plot_ot_plan = bool(plot_ot_plan)
        check_at_least("reward", self, 2, "frames")  # OT between videos of one frame each says nothing about timing
        check_at_least("reward", self, 1, "sinkhorn_iters", "pretrain_videos")
        check_positive("reward", self, "eps")

    def settings(self) -> dict[str, Any]:
        return {"eps": self.eps, "sinkhorn_iters": self.sinkhorn_iters, "frames": self.frames, "camera": self.camera, "per_frame_scale": True}

    def usable_comparisons(self, pool: DatasetPool, comparisons: Sequence[Comparison]) -> list[Comparison]:
        """The comparisons about datasets that record camera frames (the others are left out, and logged)."""
        return comparisons_with_frames(pool, comparisons)

    def check_dataset(self, ds: Dataset) -> None:
        """Refuse a dataset to evaluate or relabel without the reward's camera, before training."""
        ds.camera_key(self.camera, "visual rewards need camera frames")

    def _encoder(self, pool: DatasetPool, datasets: Sequence[str], seed: int, progress: bool) -> tuple[FrameEncoder, list[float]]:
        return build_encoder(self.encoder_cfg, self.pretrain_cfg, pool, datasets, seed, self.init_encoder, self.pretrain_videos, self.camera, progress)

    def evaluate(self, model: VisualRewardModel, pool: DatasetPool, datasets: Sequence[str], length: int,
                 rng: np.random.Generator, n: int, signal: str, labelled: Sequence[SegmentRef] | None = None) -> dict[str, Any]:
        """Spearman/Pearson of learned vs true return over held-out whole episodes (at most
        ``n``), and accuracy on ``n`` held-out triplets ranked by the ground truth (the
        pairs each ranking implies). Held out: episodes neither the model's training meta
        nor a ``labelled`` segment touches, at least ``MIN_HELDOUT_EPISODES`` of them as for
        trajectory rewards (``split: episodes``); with fewer, every episode is scored and the
        result says ``heldout: false, split: none``. ``length`` is unused: visual rewards
        score whole episodes."""
        train = [tuple(e) for e in model.meta.get("train_episodes", [])] + episodes_of(labelled or [])
        episodes, split = heldout_episodes(pool, datasets, train), "episodes"
        if len(episodes) < MIN_HELDOUT_EPISODES:  # a Spearman over one or two episodes says nothing: in-sample, and say so
            log.warning("only %d episode(s) of %s were not used to fit the %s reward (at least %d needed): it is scored "
                        "in-sample on all episodes; label part of the data only (label holdout=), or pass dataset= with "
                        "episodes no label touched", len(episodes), list(datasets), self.kind, MIN_HELDOUT_EPISODES)
            episodes, split = [r for d in datasets for r in whole_episodes(pool.get(d))], "none"
        if len(episodes) > n:
            episodes = [episodes[i] for i in sorted(rng.choice(len(episodes), n, replace=False))]
        pred = model.returns(pool, episodes)
        truth = segment_returns(pool, episodes, signal)
        out: dict[str, Any] = {**return_correlations(pred, truth), "episodes": len(episodes), "heldout": split == "episodes", "split": split}
        index = {r: i for i, r in enumerate(episodes)}
        p, y = [], []
        for trip in sample_pairs(episodes, n, rng, k=3):
            ix = [index[r] for r in trip]
            for a in range(3):
                for b in range(a + 1, 3):
                    if truth[ix[a]] != truth[ix[b]]:
                        p.append(float(pred[ix[a]] > pred[ix[b]]) if pred[ix[a]] != pred[ix[b]] else 0.5)
                        y.append(float(truth[ix[a]] > truth[ix[b]]))
        out["triplet_accuracy"] = preference_accuracy(np.array(p), np.array(y)) if p else float("nan")
        if self.plot_ot_plan and model.kind == "rapl":
            from robopref.rewards.visual.plots import plot_ot_plans
            from robopref.utils.rundir import run_dir

            best, worst = episodes[int(np.argmax(truth))], episodes[int(np.argmin(truth))]
            out["ot_plan_png"] = str(plot_ot_plans(model, pool, best, worst, run_dir() / "ot_plan.png"))
        return out

    def predict_dataset(self, model: VisualRewardModel, ds: Dataset) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per-step (reward, zeros) for every demo of ``ds`` (a visual reward has no spread)."""
        pool = DatasetPool([ds])
        refs = whole_episodes(ds)
        return {r.demo: (x.astype(np.float32), np.zeros_like(x, dtype=np.float32)) for r, x in zip(refs, model.segment_rewards(pool, refs))}


class RaplRecipe(VisualRewardRecipe):
    """RAPL: align the encoder on ranked triplets, reward = OT matching to preferred videos.

    ``references``: how many of the most preferred labelled videos the reward matches
    against; ``reference_mode``: ``mean`` averages the OT reward over them, ``best`` uses
    each rollout's best-matching one. Averaging over up to 20 winners was the measured
    best on push2d (one reference: a single video's quirks become the reward; the best
    match: a poor rollout finds a poor winner to match).
    """

    kind = "rapl"

    def __init__(self, align: Any = None, references: int = 20, reference_mode: str = "mean", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.align_cfg = _config(AlignConfig, align, "align")
        self.references = int(references)
        if self.references < 1:
            raise ValueError(f"reward.references={references}: RAPL needs at least one preferred reference video")
        if reference_mode not in REFERENCE_MODES:
            raise ValueError(f"reward.reference_mode={reference_mode!r}: expected one of {REFERENCE_MODES} "
                             "(best: each rollout matched to its best-matching reference; mean: rewards averaged over the references)")
        self.reference_mode = reference_mode
        self.align_cfg.eps, self.align_cfg.sinkhorn_iters = self.eps, self.sinkhorn_iters

    def fit(self, store: PreferenceStore, comparisons: Sequence[Comparison], pool: DatasetPool, seed: int = 0,
            progress: bool = True) -> tuple[VisualRewardModel, VisualFitHistory]:
        """Align on the store's ranked triplets; the references are the ``references`` most preferred videos."""
        triplets = ranked_triplets(store, comparisons)
        if not triplets:
            raise ValueError("RAPL learns from ranked video triplets, and the store has none for these sources: "
                             "add some with `robopref label kind=triplet ...`")
        flat = [r for t in triplets for r in t]
        encoder, pre_loss = self._encoder(pool, datasets_of(comparisons), seed, progress)
        videos = read_videos(pool, flat, self.frames, self.camera)
        videos = videos.reshape(len(triplets), 3, *videos.shape[1:])
        best = preferred_videos(triplets, self.references)
        ref_videos = read_videos(pool, best, self.frames, self.camera)
        lengths = np.array([[r.length for r in t] for t in triplets])
        hist = align_encoder(encoder, videos, self.align_cfg, seed, progress, ref_videos, lengths)
        refs = encoder.encode(ref_videos.reshape(-1, *videos.shape[3:]))
        refs = refs.view(len(best), self.frames, -1)
        meta = {"train_episodes": episodes_of(flat), "references": [r.to_dict() for r in best], "align": asdict(self.align_cfg),
                "triplets": len(triplets)}
        model = VisualRewardModel("rapl", encoder, {**self.settings(), "reference_mode": self.reference_mode}, references=refs, meta=meta)
        return model, VisualFitHistory(pre_loss, hist.train_loss, hist.train_accuracy, hist.epochs_run, len(triplets))


class RlhfVisualRecipe(VisualRewardRecipe):
    """RLHF visual baseline: frozen encoder, scalar head trained by Bradley–Terry on preference pairs."""

    kind = "rlhf_visual"

    def __init__(self, bt: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bt_cfg = _config(BTConfig, bt, "bt")

    def fit(self, store: PreferenceStore, comparisons: Sequence[Comparison], pool: DatasetPool, seed: int = 0,
            progress: bool = True) -> tuple[VisualRewardModel, VisualFitHistory]:
        """Train the head on every comparison (triplet rankings give three pairs each)."""
        if not comparisons:
            raise ValueError("no usable labels in the store for these sources")
        segs = list(dict.fromkeys(r for c in comparisons for r in (c.first, c.second)))
        index = {r: i for i, r in enumerate(segs)}
        encoder, pre_loss = self._encoder(pool, datasets_of(comparisons), seed, progress)
        encoder.eval()
        videos = read_videos(pool, segs, self.frames, self.camera)
        with torch.no_grad():
            flat = videos.reshape(-1, *videos.shape[2:])
            feats = torch.cat([encoder.last(encoder.front(encoder.preprocess(flat[i : i + 512]))) for i in range(0, len(flat), 512)])
        feats = feats.view(len(segs), self.frames, -1)
        torch.manual_seed(seed)
        head = reward_head(feats.shape[-1], self.bt_cfg.hidden)
        hist = train_bt_head(
            head, feats, torch.tensor([float(r.length) for r in segs]),
            torch.tensor([index[c.first] for c in comparisons]), torch.tensor([index[c.second] for c in comparisons]),
            torch.tensor([c.y for c in comparisons], dtype=torch.float32), torch.tensor([c.w for c in comparisons], dtype=torch.float32),
            self.bt_cfg, progress,
        )
        meta = {"train_episodes": episodes_of(segs), "bt": asdict(self.bt_cfg), "pairs": len(comparisons)}
        model = VisualRewardModel("rlhf_visual", encoder, self.settings(), head=head, meta=meta)
        return model, VisualFitHistory(pre_loss, hist.train_loss, hist.train_accuracy, hist.epochs_run, len(comparisons))
