"""``robopref convert format=dp_checkpoint|lerobot_policy``: a diffusion_policy U-Net checkpoint or a
LeRobot diffusion policy as a robopref policy.

    robopref convert format=dp_checkpoint source=data/outputs/.../checkpoints/latest.ckpt output=$PWD/dp_policy.ckpt obs_key=state
    robopref convert format=dp_checkpoint source=... output=... 'obs_map={image: top_image, agent_pos: state}'   # an image policy
    robopref convert format=lerobot_policy source=outputs/train/.../checkpoints/last/pretrained_model output=$PWD/lr_policy.ckpt

The result is an ordinary robopref policy checkpoint (``robopref.policies.dp_import`` and
``robopref.policies.lerobot_import`` have the mappings): ``robopref eval``, ``align`` (best-of-N,
Diffusion-DPO, filtered fine-tuning) and ``policy init_from=`` take it, with the env named on the
command line, since neither tool records a robopref env.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from robopref.stages.convert import ConvertConfig
from robopref.utils.atomic import atomic_write_text


def convert_checkpoint(cfg: DictConfig, out_dir: Path) -> dict[str, Any]:
    """Import ``cfg.source``, save it as a robopref policy checkpoint, return the summary (also saved as JSON)."""
    from robopref.data.output import resolve_output
    from robopref.policies.checkpoint import save_checkpoint

    dataset_only = [k for k in ("episodes", "cameras", "fps") if cfg.get(k) is not None]
    if dataset_only:
        raise ValueError(f"{', '.join(f'{k}=' for k in dataset_only)}: dataset settings; format={cfg.format} converts a policy checkpoint")
    output = resolve_output("policy.ckpt" if cfg.output == ConvertConfig.output else cfg.output, out_dir)  # not the dataset default
    if output.exists() and not cfg.overwrite:
        raise FileExistsError(f"output={output} already exists: pass overwrite=true to replace it, or another output= path")
    obs_map = OmegaConf.to_container(cfg.obs_map) if isinstance(cfg.obs_map, DictConfig) else cfg.obs_map
    if obs_map is not None and not isinstance(obs_map, dict):
        raise ValueError(f"obs_map={obs_map!r}: expected a mapping from the checkpoint's observation keys to robopref's, e.g. "
                         "'obs_map={image: top_image, agent_pos: state}'")
    where = f"source={cfg.source}"
    if cfg.format == "lerobot_policy":
        from robopref.policies.lerobot_import import import_lerobot_policy, read_lerobot_policy

        model, info = import_lerobot_policy(read_lerobot_policy(cfg.source), obs_map=obs_map, num_inference_steps=cfg.num_inference_steps, where=where)
    else:
        from robopref.policies.dp_import import import_policy, read_dp_checkpoint

        model, info = import_policy(read_dp_checkpoint(cfg.source), obs_key=cfg.obs_key, obs_map=obs_map,
                                    num_inference_steps=cfg.num_inference_steps, where=where)
    model.set_inference_dtype(cfg.inference_dtype)  # saved in the checkpoint's config, read when it loads
    save_checkpoint(output, model, meta={**info, "source": str(Path(cfg.source).expanduser().resolve())})
    summary = {"policy": str(output), "source": str(cfg.source), "format": cfg.format, **info,
               "num_inference_steps": model.cfg.num_inference_steps, "inference_dtype": model.cfg.inference_dtype,
               "eval": f"robopref eval policy={output} env=<an env with observation keys {sorted(info['obs_keys'].values())}>"}
    atomic_write_text(out_dir / "summary.json", json.dumps(summary, indent=2))
    print(json.dumps({k: v for k, v in summary.items() if k != "policy"}, indent=2))
    print(f"policy: {output}")
    return summary
