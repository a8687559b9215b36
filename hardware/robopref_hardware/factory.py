"""Build the robot (safe arm + cameras) from a hardware config (``conf/hardware/<name>.yaml``).

Backends are chosen by each config node's ``_target_`` (a ``...Config`` dataclass that
knows which device it builds), so adding a backend needs no registry edit.
"""

from __future__ import annotations

from typing import Any, Mapping

from robopref_hardware.arms.base import Arm
from robopref_hardware.cameras.base import Camera
from robopref_hardware.safety.estop import EStop
from robopref_hardware.safety.guard import SafeArm
from robopref_hardware.safety.limits import SafetyConfig


def _instantiate(node: Any) -> Any:
    from hydra.utils import instantiate
    from omegaconf import DictConfig, OmegaConf

    if isinstance(node, Mapping) and not isinstance(node, DictConfig):
        node = OmegaConf.create(dict(node))
    return instantiate(node, _convert_="all")


def build_arm(arm_cfg: Any) -> Arm:
    return _instantiate(arm_cfg).build()


def build_cameras(cams_cfg: Mapping[str, Any] | None, arm: Arm) -> dict[str, Camera]:
    return {str(name): _instantiate(node).build(arm=arm) for name, node in (cams_cfg or {}).items()}


def safety_config(node: Mapping[str, Any] | None) -> SafetyConfig:
    fields = dict(node or {})
    try:
        cfg = SafetyConfig(**fields)
    except TypeError as e:  # a mistyped key
        known = sorted(SafetyConfig.__dataclass_fields__)
        raise ValueError(f"hardware.safety: {e}. Known keys: {known}") from e
    cfg.check()
    return cfg


def build_robot(hardware: Mapping[str, Any], dry_run: bool = False, estop: EStop | None = None) -> tuple[SafeArm, dict[str, Camera]]:
    """Arm wrapped in the safety layer, plus its cameras (not connected yet: cameras may need the arm connected)."""
    arm = build_arm(hardware["arm"])
    safe = SafeArm(arm, safety_config(hardware.get("safety")), estop=estop, dry_run=dry_run)
    cams = build_cameras(hardware.get("cameras"), arm)
    return safe, cams
