"""Load a diffusion policy checkpoint, fine-tune it with Diffusion-DPO, save the result."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Sequence

from robopref.align.chunks import ChunkPairs, ChunkReader, build_chunk_pairs
from robopref.align.dpo import DiffusionDPO, DPOConfig, DPOHistory
from robopref.align.pairs import WeightedPair
from robopref.data.pool import DatasetPool
from robopref.policies.checkpoint import build_model, read_checkpoint, save_checkpoint
from robopref.policies.dataset import WindowSpec
from robopref.policies.diffusion_policy import DiffusionPolicy

ChunkSource = Callable[[DiffusionPolicy, ChunkReader], ChunkPairs]


def dpo_finetune(
    checkpoint: str | Path, pairs: Sequence[WeightedPair], pool: DatasetPool, cfg: DPOConfig, out: str | Path, progress: bool = True, meta: dict[str, Any] | None = None
) -> tuple[Path, DPOHistory]:
    """Fine-tune the checkpoint's (EMA) weights on segment ``pairs``; write ``out`` as a
    normal policy checkpoint (``load_policy`` and ``robopref eval`` read it)."""
    path, history, _ = dpo_finetune_chunks(checkpoint, lambda _, reader: build_chunk_pairs(pairs, reader), pool, cfg, out, progress, meta)
    return path, history


def dpo_finetune_chunks(
    checkpoint: str | Path, chunks: ChunkSource, pool: DatasetPool, cfg: DPOConfig, out: str | Path, progress: bool = True, meta: dict[str, Any] | None = None
) -> tuple[Path, DPOHistory, int]:
    """Fine-tune on the chunk pairs ``chunks(model, reader)`` makes from the loaded (not yet
    fine-tuned) policy and a reader of policy-shaped windows; save as :func:`dpo_finetune`
    does. Returns the checkpoint path, the history and the number of pairs."""
    ckpt = read_checkpoint(checkpoint)
    model = build_model(ckpt, weights="ema")
    pc = model.cfg
    reader = ChunkReader(pool, WindowSpec(pc.horizon, pc.n_obs_steps, pc.n_action_steps), model.obs_encoder.low_dim_keys, model.obs_encoder.image_keys,
                         policy=model)
    data = chunks(model, reader)
    trainer = DiffusionDPO(model, cfg)
    history = trainer.fit(data, progress=progress)
    info = {**(ckpt.get("meta") or {}), **(meta or {}), "dpo_pairs": data.n_pairs, "aligned_from": str(checkpoint), "dpo": asdict(cfg), "dpo_chunks": len(data),
            "dpo_history": asdict(history)}
    return save_checkpoint(out, model, None, None, info), history, data.n_pairs
