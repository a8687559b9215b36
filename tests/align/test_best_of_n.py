"""Best-of-N executes the argmax chunk of one batched sample."""

from __future__ import annotations

import numpy as np

from robopref.align.best_of_n import BestOfNPolicy, TrajectoryRewardScorer
from robopref.policies import DiffusionRolloutPolicy
from robopref.rewards import FeatureSpec, RewardConfig, TrajectoryRewardModel
from tests.align.test_dpo import make_policy


class RecordingScorer:
    """Prefers chunks whose executed actions are largest; remembers what it saw."""

    def __call__(self, history, chunks):
        self.chunks = chunks
        self.history = history
        return chunks[:, 1:5, 0].sum(1)


def test_best_of_n_picks_the_argmax_chunk():
    base = DiffusionRolloutPolicy(make_policy(), seed=0)
    scorer = RecordingScorer()
    policy = BestOfNPolicy(base, scorer, n=16)
    policy.reset(seed=3)
    obs = {"state": np.array([0.2, -0.1], np.float32)}
    first = policy.act(obs)
    assert scorer.chunks.shape == (16, 8, 1)
    assert scorer.history["state"].shape == (16, 2, 2)
    best = scorer.chunks[np.argmax(policy.last_scores)]
    executed = [first] + [policy.act(obs) for _ in range(3)]
    np.testing.assert_allclose(np.stack(executed), best[1:5], rtol=1e-6)
    assert policy.last_scores.max() >= np.median(policy.last_scores)
    assert len({round(float(s), 6) for s in policy.last_scores}) > 1  # the N samples differ


def test_trajectory_reward_scorer_uses_current_state_and_chunk_actions():
    spec = FeatureSpec(obs_keys=["state"], use_actions=True, mean=np.zeros(3), std=np.ones(3))
    model = TrajectoryRewardModel(RewardConfig(ensemble=1, hidden=[8]), spec)
    scorer = TrajectoryRewardScorer(model, start=1, n_action_steps=4)
    history = {"state": np.random.default_rng(0).normal(size=(5, 2, 2)).astype(np.float32)}
    chunks = np.random.default_rng(1).normal(size=(5, 8, 1)).astype(np.float32)
    scores = scorer(history, chunks)
    for i in range(5):
        feats = np.concatenate([np.repeat(history["state"][i, -1][None], 4, 0), chunks[i, 1:5]], axis=1)
        assert np.isclose(scores[i], model.reward(feats).sum(), rtol=1e-5)
