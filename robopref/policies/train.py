"""Train a diffusion policy on a robopref dataset: the loop behind ``robopref policy``.

Per epoch: one pass over the training windows in a seeded order (AdamW, cosine
learning rate with linear warm-up, EMA after every step), then the validation loss
and, every ``eval_every`` epochs, rollouts of the EMA policy in the env. Writes
``checkpoints/last.ckpt`` every epoch (with optimizer, scheduler, EMA, RNG states and
the epoch, so :func:`train_policy` resumes after a crash with the same result as an
uninterrupted run), the ``topk`` best checkpoints by success rate (by validation loss
when no env is available), ``best.ckpt``, and one JSON line per epoch in ``metrics.jsonl``.
"""

from __future__ import annotations

import json
import logging
import math
import random
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Optional, Sequence

import numpy as np
import torch
from tqdm import tqdm

from robopref.data import Dataset
from robopref.data.layout import is_image_key
from robopref.policies.checkpoint import read_checkpoint, save_checkpoint
from robopref.policies.config import DiffusionPolicyConfig, PolicyShapes
from robopref.policies.dataset import SequenceDataset, WindowSpec, check_action_key, fit_arrays, split_demos
from robopref.policies.diffusion_policy import DiffusionPolicy
from robopref.policies.ema import EMAModel
from robopref.policies.evaluate import evaluate_policy
from robopref.policies.normalizer import Normalizer
from robopref.policies.rollout import DiffusionRolloutPolicy
from robopref.policies.state_estimator import estimate_demos, pretrain_state_estimators
from robopref.policies.warm_start import warm_start_model
from robopref.utils.checks import check_at_least

log = logging.getLogger(__name__)
EVAL_SEED_BASE = 10_000_000  # eval episodes use seeds far from the collect stage's (seed * 100003 + i)


@dataclass
class TrainConfig:
    """Optimisation and bookkeeping settings (the flat keys of ``robopref policy``)."""

    epochs: int = 100
    batch_size: int = 64
    lr: float = 1e-3  # the recipe that learned Meta-World drawer/window/button (docs/benchmarks-policy.md)
    weight_decay: float = 1e-6
    lr_warmup_steps: int = 200  # capped at 10% of all steps, so short runs still reach the full lr
    val_ratio: float = 0.1
    eval_every: int = 10  # epochs between rollout evaluations (0: never)
    eval_episodes: int = 10
    eval_max_steps: Optional[int] = None
    topk: int = 3
    num_workers: int = 0
    max_minutes: Optional[float] = None  # stop after the epoch that passes this wall-clock budget
    max_train_steps: Optional[int] = None  # batches per epoch at most (quick checks, memory benchmarks)
    action_key: str = "actions"  # or action_dict/<name>, e.g. action_dict/intended (a noisy expert's clean actions)
    seed: int = 0
    progress: bool = True
    torch_threads: Optional[int] = None  # intra-op threads (None: torch's default); 1 is faster on a busy shared CPU

    def __post_init__(self) -> None:
        check_at_least("", self, 1, "epochs", "batch_size", "eval_episodes", "topk")
        check_at_least("", self, 0, "lr", "weight_decay", "lr_warmup_steps", "eval_every", "num_workers")  # lr 0 keeps the weights (checks)
        if not 0.0 <= self.val_ratio < 1.0:
            raise ValueError(f"val_ratio={self.val_ratio}: expected the fraction of episodes held out for validation, in [0, 1)")
        for name in ("eval_max_steps", "max_train_steps", "torch_threads"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name}={value}: expected null or > 0")
        if self.max_minutes is not None and not self.max_minutes >= 0:  # 0: stop after the first epoch
            raise ValueError(f"max_minutes={self.max_minutes}: expected null or >= 0")


def resolve_policy_config(cfg: DiffusionPolicyConfig, ds: Dataset) -> tuple[DiffusionPolicyConfig, PolicyShapes]:
    """Fill ``None`` key lists from the dataset and read the shapes; names unknown keys."""
    obs_keys = ds.obs_keys
    low = [k for k in obs_keys if not is_image_key(k)] if cfg.low_dim_keys is None else list(cfg.low_dim_keys)
    cams = [k for k in obs_keys if is_image_key(k)] if cfg.image_keys is None else list(cfg.image_keys)
    unknown = [k for k in low + cams if k not in obs_keys]
    if unknown:
        raise ValueError(f"{ds.path}: observation key(s) {unknown} not in the dataset; it has {obs_keys}")
    state_key = cfg.image_state_key
    if state_key is not None:
        if state_key not in obs_keys or is_image_key(state_key):
            raise ValueError(f"{ds.path}: image_state_key={state_key!r} is not a low-dim observation key of the dataset; it has {obs_keys}")
        if not cams:
            raise ValueError(f"image_state_key={state_key!r}: the policy has no cameras to estimate it from (image_keys is empty)")
        if state_key in low:
            raise ValueError(f"image_state_key={state_key!r} is also in low_dim_keys {low}: the policy would be given the state "
                             "its cameras are meant to estimate; list only the keys a deployed robot has (e.g. its own pose)")
    demo = ds.demos[0]

    def size(k: str) -> int:
        return int(np.prod(ds.read(demo, f"obs/{k}", 0, 1).shape[1:]))

    shapes = PolicyShapes(
        action_dim=ds.action_dim,
        low_dim={k: size(k) for k in low},
        images={k: tuple(int(x) for x in ds.read(demo, f"obs/{k}", 0, 1).shape[1:]) for k in cams},
        estimated={state_key: size(state_key)} if state_key is not None else {},
    )
    return DiffusionPolicyConfig.from_dict({**cfg.to_dict(), "low_dim_keys": low, "image_keys": cams}), shapes


def check_fits_policy(ds: Dataset, cfg: DiffusionPolicyConfig, shapes: PolicyShapes) -> None:
    """Refuse a dataset whose shapes, read as training reads them (:func:`resolve_policy_config`),
    differ from those the policy was built for, e.g. labels about another robot's rollouts."""
    _, found = resolve_policy_config(cfg, ds)
    if found != shapes:
        raise ValueError(f"{ds.path}: the policy was built for shapes {shapes.to_dict()}, this dataset has {found.to_dict()} "
                         "(data from another robot, task or camera?)")


def select_demos(ds: Dataset, demos: Sequence[str] | None) -> list[str]:
    """``demos`` (in the dataset's order) after checking each is one of the dataset's; all of them when None."""
    if demos is None:
        return list(ds.demos)
    known = set(ds.demos)
    missing = [d for d in demos if d not in known]
    if missing:
        raise ValueError(f"{ds.path}: demo(s) {missing[:5]} are not in the dataset" + (f" (filter key {ds.filter_key!r})" if ds.filter_key else ""))
    wanted = set(demos)
    return [d for d in ds.demos if d in wanted]


def _rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: Mapping[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class _Batches:
    """Batches of ``data`` in ``order``, each gathered whole (:meth:`SequenceDataset.get_batch`):
    the DataLoader's batches without its call per window."""

    def __init__(self, data: SequenceDataset, order: list[int], batch_size: int) -> None:
        self.data, self.order, self.batch_size = data, order, batch_size

    def __len__(self) -> int:
        return math.ceil(len(self.order) / self.batch_size)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for i in range(0, len(self.order), self.batch_size):
            yield self.data.get_batch(self.order[i : i + self.batch_size])


def _loader(data: SequenceDataset, batch_size: int, shuffle_seed: int | None, num_workers: int) -> Iterable[dict[str, Any]]:
    """Batches in an order that depends only on ``shuffle_seed`` (the epoch), never on global RNG:
    gathered in this process, or by a DataLoader with ``num_workers`` worker processes."""
    gen = torch.Generator().manual_seed(shuffle_seed if shuffle_seed is not None else 0)
    order = torch.randperm(len(data), generator=gen).tolist() if shuffle_seed is not None else list(range(len(data)))
    if num_workers == 0:
        return _Batches(data, order, batch_size)
    return torch.utils.data.DataLoader(data, batch_size=batch_size, sampler=order, num_workers=num_workers, generator=gen, persistent_workers=False)


def validation_loss(model: DiffusionPolicy, data: SequenceDataset | None, batch_size: int, seed: int, num_workers: int = 0) -> float | None:
    """Mean denoising loss on validation windows with fixed noise (comparable across epochs)."""
    if data is None or len(data) == 0:
        return None
    total, n = 0.0, 0
    was_training = model.training
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        model.eval()
        for batch in _loader(data, batch_size, None, num_workers):
            b = batch["action"].shape[0]
            total += float(model.compute_loss(batch)) * b
            n += b
    model.train(was_training)
    return total / max(n, 1)


def _lr_scheduler(optimizer: torch.optim.Optimizer, warmup: int, total: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up then cosine decay to 0 (diffusers' ``get_scheduler("cosine")``)."""
    from diffusers.optimization import get_cosine_schedule_with_warmup

    return get_cosine_schedule_with_warmup(optimizer, num_warmup_steps=min(warmup, max(total // 10, 1)) if total else warmup, num_training_steps=max(total, 1))


def _selection_score(record: Mapping[str, Any], has_env: bool) -> list[float] | None:
    """Higher is better: (success rate, -val loss) on rollout epochs with an env, else (-val loss)."""
    val = record.get("val_loss")
    neg_val = -val if val is not None else float("-inf")
    if has_env:
        return [record["success_rate"], neg_val] if "success_rate" in record else None
    return [neg_val] if val is not None else None


class TopK:
    """Keeps the ``k`` best checkpoint files by score (a list compared lexicographically, higher is better) and ``best.ckpt``."""

    def __init__(self, directory: Path, k: int, entries: list[dict[str, Any]] | None = None) -> None:
        self.directory, self.k = directory, k
        self.entries: list[dict[str, Any]] = list(entries or [])

    def offer(self, score: list[float], name: str, write: Any) -> bool:
        """Write via ``write(path)`` if ``score`` makes the top k; delete what falls out."""
        if self.k <= 0:
            return False
        ranked = sorted(self.entries, key=lambda e: e["score"], reverse=True)
        if len(ranked) >= self.k and score <= ranked[-1]["score"]:
            return False
        path = self.directory / name
        write(path)
        if not ranked or score > ranked[0]["score"]:
            shutil.copyfile(path, self.directory / "best.ckpt")
        self.entries.append({"score": [float(x) for x in score], "path": str(path)})
        self.entries.sort(key=lambda e: e["score"], reverse=True)
        for e in self.entries[self.k :]:
            Path(e["path"]).unlink(missing_ok=True)
        self.entries = self.entries[: self.k]
        return True


def train_policy(
    policy_cfg: DiffusionPolicyConfig,
    train_cfg: TrainConfig,
    dataset: str,
    out_dir: str | Path,
    filter_key: str | None = None,
    env_cfg: Mapping[str, Any] | None = None,
    device: str | torch.device = "cpu",
    resume: bool = False,
    init_from: str | Path | None = None,
    demos: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Train (or resume from ``out_dir/checkpoints/last.ckpt``) and return a summary dict.

    ``init_from``: a policy checkpoint to fine-tune (:mod:`robopref.policies.warm_start`):
    its weights and normaliser, a fresh optimizer and schedule. Ignored when resuming,
    which restores everything from ``last.ckpt`` instead. ``demos``: train on these demos
    of the dataset only (e.g. the episodes a learned reward ranks highest), after ``filter_key``.
    """
    from robopref.utils.device import resolve_device

    device = resolve_device(device) if isinstance(device, str) else device
    if train_cfg.torch_threads:
        torch.set_num_threads(train_cfg.torch_threads)
    out_dir = Path(out_dir)
    ckpt_dir = out_dir / "checkpoints"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    last_path = ckpt_dir / "last.ckpt"
    resumed = None
    if resume and last_path.exists():
        resumed = read_checkpoint(last_path)
        if resumed.get("train") is None:
            raise ValueError(f"{last_path}: has no training state to resume from")
        policy_cfg = DiffusionPolicyConfig.from_dict(resumed["policy_config"])
    elif resume:
        log.warning("resume=true but %s does not exist: starting from scratch", last_path)

    random.seed(train_cfg.seed)
    np.random.seed(train_cfg.seed % 2**32)
    torch.manual_seed(train_cfg.seed)

    ds = Dataset(dataset, filter_key=filter_key).require_episodes("a policy needs demonstrations to train on")
    policy_cfg, shapes = resolve_policy_config(policy_cfg, ds)
    spec = WindowSpec(policy_cfg.horizon, policy_cfg.n_obs_steps, policy_cfg.n_action_steps)
    train_demos, val_demos = split_demos(select_demos(ds, demos), train_cfg.val_ratio, train_cfg.seed)
    check_action_key(ds, train_cfg.action_key)
    windows = dict(low_dim_keys=policy_cfg.low_dim_keys, image_keys=policy_cfg.image_keys, action_key=train_cfg.action_key)
    train_data = SequenceDataset(ds, train_demos, spec, **windows)
    val_data = SequenceDataset(ds, val_demos, spec, **windows) if val_demos else None

    arrays = fit_arrays(ds, train_demos, [*policy_cfg.low_dim_keys, *shapes.estimated], train_cfg.action_key)
    if init_from is not None and resumed is not None:
        log.warning("init_from=%s is ignored: the run resumes from %s, which already holds its weights", init_from, last_path)
    if init_from is not None and resumed is None:
        model = warm_start_model(init_from, policy_cfg, shapes, arrays).to(device)
    else:
        model = DiffusionPolicy(policy_cfg, shapes, Normalizer.fit_arrays(arrays)).to(device)
    estimator_report = None
    if policy_cfg.image_state_key is not None and init_from is None and resumed is None:
        # a warm start or a resumed run already holds its trained (frozen) estimators
        estimator_report = pretrain_state_estimators(model, ds, train_demos, val_demos, seed=train_cfg.seed, progress=train_cfg.progress)
    ema = EMAModel(model, power=policy_cfg.ema_power, max_value=policy_cfg.ema_max_decay)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=train_cfg.lr, betas=(0.95, 0.999), eps=1e-8, weight_decay=train_cfg.weight_decay,
                                  foreach=True)  # one call per update for all ~150 tensors: torch picks it only on GPUs, and on a CPU it is ~30 % faster too
    steps_per_epoch = math.ceil(len(train_data) / train_cfg.batch_size)
    if train_cfg.max_train_steps:
        steps_per_epoch = min(steps_per_epoch, train_cfg.max_train_steps)
    lr_sched = _lr_scheduler(optimizer, train_cfg.lr_warmup_steps, steps_per_epoch * train_cfg.epochs)
    topk = TopK(ckpt_dir, train_cfg.topk)
    start_epoch, step, elapsed_before = 0, 0, 0.0
    if resumed is not None:
        model.load_state_dict(resumed["model"])
        ema.load_state_dict(resumed["ema"])
        st = resumed["train"]
        optimizer.load_state_dict(st["optimizer"])
        lr_sched.load_state_dict(st["lr_scheduler"])
        start_epoch, step, elapsed_before = st["epoch"] + 1, st["step"], st.get("elapsed_s", 0.0)
        topk = TopK(ckpt_dir, train_cfg.topk, st["topk"])
        _set_rng_state(st["rng"])
        log.info("resumed from %s at epoch %d (step %d)", last_path, start_epoch, step)
    if policy_cfg.image_state_key is not None:
        # train from the frozen estimators' outputs, computed once per frame: no frame is read per batch
        windows = {**windows, "image_keys": []}
        train_data = SequenceDataset(ds, train_demos, spec, **windows, extra=estimate_demos(model, ds, train_demos))
        val_data = SequenceDataset(ds, val_demos, spec, **windows, extra=estimate_demos(model, ds, val_demos)) if val_demos else None

    env = None
    env_cfg = env_cfg or ds.env_args.get("robopref_env")
    if train_cfg.eval_every > 0 and train_cfg.eval_episodes > 0:
        if env_cfg:
            from robopref.rollout.factory import make_env

            env = make_env(env_cfg)
        else:
            log.warning("no env config given and the dataset stores none (env_args.robopref_env): rollout evaluation is off")

    meta = {"dataset": str(Path(dataset).resolve()), "filter_key": filter_key, "init_from": str(init_from) if init_from else None, "train_demos": len(train_demos), "val_demos": len(val_demos), "train_config": asdict(train_cfg)}
    if estimator_report is not None:
        meta["state_estimators"] = estimator_report
    metrics_path = out_dir / "metrics.jsonl"
    t_start = time.time()
    last_record: dict[str, Any] = {}
    stopped_early = False
    model.train()
    for epoch in range(start_epoch, train_cfg.epochs):
        t0 = time.time()
        losses: list[float] = []
        n_samples = 0
        loader = _loader(train_data, train_cfg.batch_size, train_cfg.seed * 1_000_003 + epoch, train_cfg.num_workers)
        bar = tqdm(loader, total=steps_per_epoch, desc=f"epoch {epoch + 1}/{train_cfg.epochs}", unit="batch", disable=not train_cfg.progress, leave=False)
        for i, batch in enumerate(bar):
            if i >= steps_per_epoch:
                break
            loss = model.compute_loss(batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            lr_sched.step()
            ema.step(model)
            step += 1
            losses.append(loss.item())
            n_samples += batch["action"].shape[0]
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
        train_time = time.time() - t0
        record: dict[str, Any] = {
            "epoch": epoch + 1,
            "step": step,
            "train_loss": float(np.mean(losses)) if losses else None,
            "lr": float(lr_sched.get_last_lr()[0]),
            "samples_per_s": n_samples / max(train_time, 1e-9),
            "val_loss": validation_loss(ema.averaged, val_data, train_cfg.batch_size, train_cfg.seed, train_cfg.num_workers),
        }
        if env is not None and ((epoch + 1) % train_cfg.eval_every == 0 or epoch + 1 == train_cfg.epochs):
            with torch.random.fork_rng(devices=[]):
                rollout = DiffusionRolloutPolicy(ema.averaged, seed=train_cfg.seed)
                record.update(evaluate_policy(env, rollout, train_cfg.eval_episodes, EVAL_SEED_BASE + train_cfg.seed * 1000, train_cfg.eval_max_steps))
            ema.averaged.train(False)
        elapsed = elapsed_before + time.time() - t_start
        record["elapsed_s"] = elapsed
        score = _selection_score(record, has_env=env is not None)
        if score is not None:
            name = f"epoch={epoch + 1:04d}-" + (f"success={record['success_rate']:.3f}" if env is not None else f"val_loss={record['val_loss']:.4f}") + ".ckpt"
            topk.offer(score, name, lambda p: save_checkpoint(p, model, ema.state_dict(), None, {**meta, "metrics": record}))
        train_state = {
            "optimizer": optimizer.state_dict(),
            "lr_scheduler": lr_sched.state_dict(),
            "epoch": epoch,
            "step": step,
            "elapsed_s": elapsed,
            "topk": topk.entries,
            "rng": _rng_state(),
        }
        save_checkpoint(last_path, model, ema.state_dict(), train_state, {**meta, "metrics": record})
        with metrics_path.open("a") as f:
            f.write(json.dumps(record) + "\n")
        last_record = record
        log.info("epoch %d: %s", epoch + 1, json.dumps(record))
        if train_cfg.progress:
            tqdm.write(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items() if v is not None))
        if train_cfg.max_minutes is not None and time.time() - t_start > train_cfg.max_minutes * 60:
            stopped_early = epoch + 1 < train_cfg.epochs
            log.warning("time budget of %.1f min reached after epoch %d", train_cfg.max_minutes, epoch + 1)
            if stopped_early and train_cfg.lr > 0:
                # The cosine schedule is planned over all ``epochs``: stopped by the clock, the run
                # ends at a high learning rate and never gets the schedule's low-lr finish.
                log.warning("the learning-rate schedule was planned for %d epochs and is at %.0f %% of its peak (lr %.3g); "
                            "for a run that ends on its time budget, set epochs to about %d so that it decays in time",
                            train_cfg.epochs, 100 * record["lr"] / train_cfg.lr, record["lr"], epoch + 1)
            break
    if env is not None:
        env.close()
    ds.close()
    return {
        "last": str(last_path),
        "best": str(ckpt_dir / "best.ckpt") if (ckpt_dir / "best.ckpt").exists() else None,
        "topk": topk.entries,
        "epochs_done": last_record.get("epoch", start_epoch),
        "stopped_early": stopped_early,
        "lr_fraction_at_end": (last_record["lr"] / train_cfg.lr) if last_record and train_cfg.lr > 0 else None,  # near 0 when the schedule ran out
        "final": last_record,
        "train_demos": len(train_demos),
        "val_demos": len(val_demos),
        "samples_per_epoch": len(train_data),
        "state_estimators": estimator_report,
    }
