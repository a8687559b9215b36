"""Diffusion-DPO: the loss by hand, β = 0 changes nothing, and a tiny run moves the policy
toward the preferred chunks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from robopref.align.chunks import ChunkPairs
from robopref.align.dpo import DiffusionDPO, DPOConfig, parameter_distance
from robopref.align.dpo_loss import dpo_loss, dpo_pair_delta
from robopref.policies import DiffusionPolicy, Normalizer, PolicyShapes
from tests.policies.conftest import tiny_config


def test_dpo_loss_by_hand():
    err_w, ref_w = torch.tensor([0.5, 0.2, 0.3]), torch.tensor([0.4, 0.4, 0.3])
    err_l, ref_l = torch.tensor([0.6, 0.1, 0.1]), torch.tensor([0.2, 0.3, 0.2])
    delta = dpo_pair_delta(err_w, ref_w, err_l, ref_l, torch.tensor([0, 0, 1]), 2)
    # pair 0: (0.1 - 0.4) + (-0.2 - (-0.2)) = -0.3 ; pair 1: 0 - (-0.1) = 0.1
    assert torch.allclose(delta, torch.tensor([-0.3, 0.1]))
    expected = (math.log(1 + math.exp(-0.6)) + math.log(1 + math.exp(0.2))) / 2  # -log σ(-β Δ), β = 2
    assert float(dpo_loss(delta, beta=2.0)) == pytest.approx(expected, rel=1e-6)
    weighted = float(dpo_loss(delta, 2.0, torch.tensor([3.0, 1.0])))
    assert weighted == pytest.approx((3 * math.log(1 + math.exp(-0.6)) + math.log(1 + math.exp(0.2))) / 4, rel=1e-6)


def make_policy(seed: int = 0) -> DiffusionPolicy:
    torch.manual_seed(seed)
    shapes = PolicyShapes(action_dim=1, low_dim={"state": 2}, images={})
    norm = Normalizer.fit_arrays({"action": np.array([[-1.0], [1.0]], np.float32), "state": np.array([[-1.0, -1.0], [1.0, 1.0]], np.float32)})
    return DiffusionPolicy(tiny_config(), shapes, norm)


def chunk_pairs(n: int, seed: int = 0) -> ChunkPairs:
    """From the same observations, chunks moving right (+0.8) are preferred over left (-0.8)."""
    g = torch.Generator().manual_seed(seed)
    obs = {"state": torch.rand(n, 2, 2, generator=g) * 2 - 1}
    right, left = torch.full((n, 8, 1), 0.8), torch.full((n, 8, 1), -0.8)
    return ChunkPairs(obs, right, obs, left, torch.arange(n), torch.ones(n))


def bc_pretrain(policy: DiffusionPolicy, steps: int = 100) -> None:
    """Behaviour-clone both directions equally: the reference is indifferent."""
    data = chunk_pairs(64, seed=1)
    opt = torch.optim.AdamW(policy.parameters(), lr=3e-3)
    for i in range(steps):
        act = data.act_w if i % 2 else data.act_l
        loss = policy.compute_loss({"obs": data.obs_w, "action": act})
        opt.zero_grad()
        loss.backward()
        opt.step()
    policy.eval()


def mean_action(policy: DiffusionPolicy, obs: dict[str, torch.Tensor]) -> float:
    return float(policy.predict_action(obs, generator=torch.Generator().manual_seed(0)).mean())


def test_beta_zero_leaves_policy_unchanged():
    policy = make_policy()
    before = {k: v.clone() for k, v in policy.state_dict().items()}
    trainer = DiffusionDPO(policy, DPOConfig(beta=0.0, bc_weight=0.0, epochs=2, batch_pairs=8, lr=1e-2))
    out = trainer.terms(chunk_pairs(8))
    assert float(out["dpo"].detach()) == pytest.approx(math.log(2.0), rel=1e-6)  # -log σ(0)
    hist = trainer.fit(chunk_pairs(16), progress=False)
    after = policy.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert hist.ref_distance[-1] == 0.0


def test_dpo_gradient_vanishes_with_beta():
    policy = make_policy()
    norms = []
    for beta in (1e-2, 1e-4):
        policy.zero_grad()
        torch.manual_seed(0)
        DiffusionDPO(policy, DPOConfig(beta=beta, bc_weight=0.0)).terms(chunk_pairs(8))["dpo"].backward()
        norms.append(math.sqrt(sum(float(p.grad.pow(2).sum()) for p in policy.parameters() if p.grad is not None)))
    assert norms[1] == pytest.approx(norms[0] / 100, rel=1e-3)  # ∂/∂θ [-log σ(-βΔ)] = β σ(βΔ) ∂Δ/∂θ


def test_tiny_alignment_moves_toward_preferred_chunks():
    policy = make_policy()
    bc_pretrain(policy)
    probe = chunk_pairs(32, seed=5).obs_w
    before = mean_action(policy, probe)
    trainer = DiffusionDPO(policy, DPOConfig(beta=200.0, bc_weight=0.1, lr=1e-3, epochs=12, batch_pairs=16))
    hist = trainer.fit(chunk_pairs(48, seed=2), progress=False)
    after = mean_action(policy, probe)
    assert after > before + 0.3, (before, after)
    assert hist.implicit_accuracy[-1] > 0.6
    assert parameter_distance(trainer.policy, trainer.reference) > 0


def test_chunk_windows_at_episode_edges(line_dataset):
    """Chunks cut anywhere in a segment, even its last step, are padded like training windows."""
    from robopref.align.chunks import ChunkReader, build_chunk_pairs
    from robopref.data import Dataset, SegmentRef
    from robopref.data.pool import DatasetPool
    from robopref.policies import WindowSpec

    ds = Dataset(line_dataset)
    pool = DatasetPool([ds])
    reader = ChunkReader(pool, WindowSpec(8, 2, 4), ["state"])
    n = ds.num_samples("demo_0")
    last = reader.window(ds.path, "demo_0", n - 1)
    actions = ds.read("demo_0", "actions")
    # the chunk starts n_obs_steps - 1 = 1 step before the current step, then repeats the last action
    assert torch.equal(last["action"], torch.from_numpy(actions[np.clip(np.arange(n - 2, n + 6), 0, n - 1)]))
    first = reader.window(ds.path, "demo_0", 0)
    states = ds.read("demo_0", "obs/state")
    assert torch.equal(first["obs"]["state"], torch.from_numpy(states[[0, 0]]))
    pairs = build_chunk_pairs([(SegmentRef(ds.path, "demo_0", 0, n), SegmentRef(ds.path, "demo_1", 0, n), 1.0)], reader)
    assert len(pairs) == len(range(0, n, 4)) and pairs.n_pairs == 1
    with pytest.raises(ValueError, match="step 99 is outside the episode"):
        reader.window(ds.path, "demo_0", 99)


def test_chunks_from_another_robots_data_are_refused(line_dataset):
    """DPO pairs about a dataset whose actions or observations differ from the policy's (labels
    about another robot's rollouts) stop with both shapes named, not a tensor-size error mid-training."""
    from types import SimpleNamespace

    from robopref.align.chunks import ChunkReader
    from robopref.data import Dataset
    from robopref.data.pool import DatasetPool
    from robopref.policies import WindowSpec
    from robopref.policies.config import PolicyShapes
    from tests.policies.conftest import tiny_config

    ds = Dataset(line_dataset)
    pool = DatasetPool([ds])
    cfg = tiny_config(low_dim_keys=["state"], image_keys=[])
    state = int(np.prod(ds.read("demo_0", "obs/state", 0, 1).shape[1:]))
    fits = SimpleNamespace(cfg=cfg, shapes=PolicyShapes(action_dim=ds.action_dim, low_dim={"state": state}, images={}))
    assert ChunkReader(pool, WindowSpec(8, 2, 4), ["state"], policy=fits).window(ds.path, "demo_0", 0)["action"].shape == (8, ds.action_dim)
    other = SimpleNamespace(cfg=cfg, shapes=PolicyShapes(action_dim=ds.action_dim + 1, low_dim={"state": state}, images={}))
    with pytest.raises(ValueError, match=rf"the policy was built for shapes \{{'action_dim': {ds.action_dim + 1}, .*this dataset has \{{'action_dim': {ds.action_dim}, "):
        ChunkReader(pool, WindowSpec(8, 2, 4), ["state"], policy=other).window(ds.path, "demo_0", 0)
    camera = SimpleNamespace(cfg=tiny_config(low_dim_keys=["state"], image_keys=["wrist_image"]), shapes=other.shapes)
    with pytest.raises(ValueError, match=r"observation key\(s\) \['wrist_image'\] not in the dataset"):
        ChunkReader(pool, WindowSpec(8, 2, 4), ["state"], ["wrist_image"], policy=camera).window(ds.path, "demo_0", 0)


def test_dpo_settings_out_of_range_name_the_key():
    bad = {"lr": (0.0, "dpo.lr=0.0: expected > 0"), "beta": (-1.0, "dpo.beta=-1.0: expected >= 0"),
           "epochs": (0, "dpo.epochs=0: expected >= 1"), "batch_pairs": (0, "dpo.batch_pairs=0"),
           "grad_clip": (0.0, "dpo.grad_clip=0.0"), "bc_weight": (-1.0, "dpo.bc_weight=-1.0"), "threads": (0, "dpo.threads=0")}
    for key, (value, message) in bad.items():
        with pytest.raises(ValueError, match=message):
            DPOConfig(**{key: value})
