"""What a diffusion policy is made of: its hyper-parameters and the shapes it was built for.

:class:`DiffusionPolicyConfig` is the ``policy`` config group (conf_stage/policy/policy/*.yaml), with
diffusion_policy's names. :class:`PolicyShapes` is read from the dataset. Both are
stored in every checkpoint as plain dicts, so a checkpoint rebuilds its model alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Mapping, Optional

BETA_SCHEDULES = ("linear", "scaled_linear", "squaredcos_cap_v2")  # the noise schedules diffusers' DDPM and DDIM schedulers implement
IMAGE_ENCODERS = ("resnet18", "small_cnn", "keypoints")  # robopref.policies.vision builds them
IMAGE_RANGES = ("unit", "signed")  # what the camera encoders see: [0, 1] or [-1, 1]
IMAGE_POOLS = ("avg", "spatial_softmax")  # how resnet18 pools its last feature maps
INFERENCE_DTYPES = ("float32", "bfloat16")  # the U-Net's weights when sampling (robopref.policies.chunk_sampler)


@dataclass
class DiffusionPolicyConfig:
    """Hyper-parameters of a diffusion policy (defaults: a low-dim policy sized for a CPU)."""

    name: str = "diffusion_lowdim"
    # observations: None = every low-dim (non-image) obs key / every camera of the dataset
    low_dim_keys: Optional[list[str]] = None
    image_keys: Optional[list[str]] = field(default_factory=list)
    # time structure (Chi et al.: prediction horizon 16, observation horizon 2, 8 actions executed)
    horizon: int = 16
    n_obs_steps: int = 2
    n_action_steps: int = 8
    # ConditionalUnet1D
    down_dims: list[int] = field(default_factory=lambda: [64, 128, 256])  # Chi et al.: [256, 512, 1024]
    kernel_size: int = 5
    n_groups: int = 8
    diffusion_step_embed_dim: int = 128
    # diffusion (diffusers schedulers)
    num_train_timesteps: int = 100
    num_inference_steps: int = 8
    beta_schedule: str = "squaredcos_cap_v2"
    prediction_type: str = "epsilon"  # epsilon | sample
    clip_sample: bool = True
    # the U-Net's weights when sampling without gradients: float32 | bfloat16 (its matrix products in bf16, the rest in
    # float32: ~2-3x faster for large U-Nets on CPUs with AVX-512 BF16 or AMX, slower on others; training stays float32)
    inference_dtype: str = "float32"
    # image encoder, one per camera
    image_encoder: str = "resnet18"  # resnet18 | small_cnn | keypoints
    image_feature_dim: int = 64  # 0: resnet18's own 512 pooled features, no head (diffusion_policy's image policies)
    image_norm: str = "group"  # group | batch
    image_range: str = "unit"  # unit: frames in [0, 1]; signed: in [-1, 1] (diffusion_policy's image normaliser)
    imagenet_norm: bool = False  # then subtract ImageNet's channel means and divide by its stds (diffusion_policy's option)
    image_weights: Optional[str] = None  # local torchvision resnet18 .pth to start from
    image_pool: str = "avg"  # resnet18: avg (global average) | spatial_softmax (image_keypoints expected (x, y), then linear + ReLU: LeRobot's)
    image_keypoints: int = 32  # image_pool=spatial_softmax: keypoints read off the last stage
    # per-camera channel standardisation after image_range and imagenet_norm: {camera: {mean: [C], std: [C]}},
    # (x - mean) / std; LeRobot's MEAN_STD normalisation of its cameras, which `convert format=lerobot_policy` fills in
    image_stats: Optional[dict[str, Any]] = None
    crop_ratio: float = 0.9  # random crop of this fraction of H and W in training, centre crop at inference
    # cameras as state estimators (robopref.policies.state_estimator): each camera's encoder first learns to
    # predict this low-dim key (normalised) from single frames, which simulated datasets record, and is then
    # frozen; the policy is conditioned on the estimate, never on the key itself
    image_state_key: Optional[str] = None
    image_state_steps: int = 1000  # pre-training optimizer steps (batches of image_state_batch frames)
    image_state_batch: int = 128
    image_state_frames: int = 30000  # frames held in memory for pre-training at most (a random subset of larger datasets)
    # interchangeable objects in a low-dim key (e.g. push2d's blocks), put in a canonical order:
    # nearest to the robot first, by the (x, y) of the latest observation step (ObsEncoder)
    sort_objects_key: Optional[str] = None  # the key holding the object slots; None: keep the dataset's order
    objects_offset: int = 2  # where the slots start in that key (the robot's own values come first; its x, y are values 0, 1)
    object_size: int = 4  # values per object slot; its first two are the object's x, y
    # EMA of the weights (diffusion_policy's warm-up schedule)
    ema_power: float = 0.75
    ema_max_decay: float = 0.9999

    def __post_init__(self) -> None:
        self._check_network()
        if self.prediction_type not in ("epsilon", "sample"):
            raise ValueError(f"prediction_type={self.prediction_type!r}: expected 'epsilon' or 'sample'")
        if not 0 < self.crop_ratio <= 1:
            raise ValueError(f"crop_ratio={self.crop_ratio}: expected a fraction in (0, 1]")
        if min(self.image_state_steps, self.image_state_batch, self.image_state_frames) < 1:
            raise ValueError(f"image_state_steps={self.image_state_steps}, image_state_batch={self.image_state_batch}, "
                             f"image_state_frames={self.image_state_frames}: expected integers >= 1")
        if self.objects_offset < 2 or self.object_size < 2:
            raise ValueError(f"objects_offset={self.objects_offset}, object_size={self.object_size}: expected both >= 2 "
                             "(the robot's x, y come before the slots; each slot starts with the object's x, y)")

    def _check_network(self) -> None:
        """The U-Net and noise schedule settings (each named as ``policy.<key>``)."""
        if not self.down_dims or self.n_groups < 1 or any(d < 1 or d % self.n_groups for d in self.down_dims):
            raise ValueError(f"policy.down_dims={list(self.down_dims)}, policy.n_groups={self.n_groups}: expected one or more "
                             "widths, each a multiple of n_groups (GroupNorm splits every block's channels into n_groups)")
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ValueError(f"policy.kernel_size={self.kernel_size}: expected an odd size >= 1 (the convolutions keep the horizon's length)")
        if self.diffusion_step_embed_dim < 4 or self.diffusion_step_embed_dim % 2:
            raise ValueError(f"policy.diffusion_step_embed_dim={self.diffusion_step_embed_dim}: expected an even size >= 4 (sine and cosine halves)")
        if not 1 <= self.num_inference_steps <= self.num_train_timesteps:
            raise ValueError(f"policy.num_inference_steps={self.num_inference_steps}, policy.num_train_timesteps={self.num_train_timesteps}: "
                             "expected 1 <= num_inference_steps <= num_train_timesteps")
        if self.inference_dtype not in INFERENCE_DTYPES:
            raise ValueError(f"policy.inference_dtype={self.inference_dtype!r}: expected one of {list(INFERENCE_DTYPES)}")
        if self.beta_schedule not in BETA_SCHEDULES:
            raise ValueError(f"policy.beta_schedule={self.beta_schedule!r}: expected one of {list(BETA_SCHEDULES)}")
        if self.image_encoder not in IMAGE_ENCODERS or self.image_norm not in ("group", "batch") or self.image_feature_dim < 0:
            raise ValueError(f"policy.image_encoder={self.image_encoder!r}, policy.image_norm={self.image_norm!r}, "
                             f"policy.image_feature_dim={self.image_feature_dim}: expected an encoder in {list(IMAGE_ENCODERS)}, "
                             "norm 'group' or 'batch' and a feature size >= 0")
        if self.image_feature_dim == 0 and self.image_encoder != "resnet18":
            raise ValueError(f"policy.image_feature_dim=0 (the encoder's own features, no head) needs image_encoder=resnet18, not {self.image_encoder!r}")
        if self.image_pool not in IMAGE_POOLS or self.image_keypoints < 1 or (self.image_pool != "avg" and self.image_encoder != "resnet18"):
            raise ValueError(f"policy.image_pool={self.image_pool!r}, policy.image_keypoints={self.image_keypoints}: expected a pool in "
                             f"{list(IMAGE_POOLS)} (spatial_softmax with image_encoder=resnet18 only) and keypoints >= 1")
        self._check_image_stats()
        if self.image_range not in IMAGE_RANGES:
            raise ValueError(f"policy.image_range={self.image_range!r}: expected one of {list(IMAGE_RANGES)}")
        if self.image_state_key is not None and (self.image_range != "unit" or self.imagenet_norm or self.image_stats):
            raise ValueError("policy.image_range, policy.imagenet_norm and policy.image_stats: cameras that estimate the state "
                             "(image_state_key) see frames in [0, 1]; keep image_range=unit, imagenet_norm=false and image_stats=null")
        if not self.ema_power > 0 or not 0 <= self.ema_max_decay < 1:
            raise ValueError(f"policy.ema_power={self.ema_power}, policy.ema_max_decay={self.ema_max_decay}: expected power > 0 and decay in [0, 1)")

    def _check_image_stats(self) -> None:
        """``image_stats``: per camera, ``mean`` and ``std`` lists of one size, every std > 0."""
        if self.image_stats is None:
            return
        if not isinstance(self.image_stats, Mapping):
            raise ValueError(f"policy.image_stats={self.image_stats!r}: expected {{camera: {{mean: [...], std: [...]}}}}")
        for cam, st in self.image_stats.items():
            try:
                mean, std = [float(v) for v in st["mean"]], [float(v) for v in st["std"]]
            except (KeyError, TypeError, ValueError) as e:
                raise ValueError(f"policy.image_stats.{cam}={st!r}: expected {{mean: [per channel], std: [per channel]}}") from e
            if not mean or len(mean) != len(std) or min(std) <= 0:
                raise ValueError(f"policy.image_stats.{cam}: mean {mean} and std {std} must be lists of one size (a value per channel), every std > 0")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "DiffusionPolicyConfig":
        """From a plain or OmegaConf mapping; unknown keys are an error naming them."""
        from omegaconf import DictConfig, OmegaConf

        if isinstance(d, DictConfig):
            d = OmegaConf.to_container(d, resolve=True)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown diffusion policy config key(s) {unknown}; known: {sorted(known)}")
        return cls(**{k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in d.items()})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PolicyShapes:
    """Shapes read from the dataset: action size, low-dim obs sizes, camera image shapes (H, W, C)."""

    action_dim: int
    low_dim: dict[str, int]
    images: dict[str, tuple[int, int, int]]
    estimated: dict[str, int] = field(default_factory=dict)  # {image_state_key: its size} when the cameras estimate it

    def to_dict(self) -> dict[str, Any]:
        return {"action_dim": self.action_dim, "low_dim": dict(self.low_dim), "images": {k: list(v) for k, v in self.images.items()},
                "estimated": dict(self.estimated)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "PolicyShapes":
        return cls(int(d["action_dim"]), {k: int(v) for k, v in d["low_dim"].items()}, {k: tuple(int(x) for x in v) for k, v in d["images"].items()},
                   {k: int(v) for k, v in d.get("estimated", {}).items()})  # checkpoints before image_state_key have none
