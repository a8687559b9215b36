"""Policy evaluation: parallel rollouts, success/return/preference metrics with 95% CIs,
videos, JSON and markdown reports. ``evaluate(env_cfg, "expert", episodes=50)``."""

from robopref.eval.policies import PolicySpec
from robopref.eval.report import markdown, write_json, write_markdown
from robopref.eval.runner import EpisodeResult, EvalResult, evaluate
from robopref.eval.stats import Estimate, mean_ci, proportion_ci

__all__ = [
    "Estimate",
    "EpisodeResult",
    "EvalResult",
    "PolicySpec",
    "evaluate",
    "markdown",
    "mean_ci",
    "proportion_ci",
    "write_json",
    "write_markdown",
]
