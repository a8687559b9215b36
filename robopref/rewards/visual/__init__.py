"""Visual rewards from camera frames: RAPL (representation alignment + optimal-transport
reward) and its RLHF baseline (frozen encoder + Bradley–Terry head). See docs/visual-reward.md."""

from robopref.rewards.visual.encoders import EncoderConfig, FrameEncoder
from robopref.rewards.visual.model import VisualRewardModel
from robopref.rewards.visual.recipe import RaplRecipe, RlhfVisualRecipe
from robopref.rewards.visual.sinkhorn import cosine_cost, ot_score, ot_step_rewards, sinkhorn

__all__ = ["EncoderConfig", "FrameEncoder", "VisualRewardModel", "RaplRecipe", "RlhfVisualRecipe", "cosine_cost", "ot_score", "ot_step_rewards", "sinkhorn"]
