"""Interchangeable objects in a low-dim key are put nearest-first before conditioning the U-Net."""

from __future__ import annotations

import pytest
import torch

from robopref.policies.config import DiffusionPolicyConfig, PolicyShapes
from robopref.policies.obs_encoder import ObsEncoder


def _encoder(**kw) -> ObsEncoder:
    cfg = DiffusionPolicyConfig(sort_objects_key="state", objects_offset=2, object_size=3, **kw)
    return ObsEncoder(cfg, PolicyShapes(action_dim=2, low_dim={"state": 2 + 3 * 3}, images={}))


def test_slots_are_ordered_nearest_first_at_the_last_step():
    robot = [0.0, 0.0]
    far, near, mid = [5.0, 0.0, 1.0], [0.5, 0.0, 2.0], [0.0, -2.0, 3.0]
    last = torch.tensor(robot + far + near + mid)
    first = torch.tensor([9.0, 9.0] + far + near + mid)  # the earlier step's robot does not set the order
    out = _encoder()({"state": torch.stack([first, last])[None]})
    expect_last = torch.tensor(robot + near + mid + far)
    expect_first = torch.tensor([9.0, 9.0] + near + mid + far)
    assert torch.equal(out.reshape(2, -1)[1], expect_last)
    assert torch.equal(out.reshape(2, -1)[0], expect_first)  # one order for the whole history


def test_sorted_features_do_not_depend_on_the_datasets_object_order():
    g = torch.Generator().manual_seed(0)
    v = torch.randn(4, 2, 11, generator=g)
    slots = v[..., 2:].reshape(4, 2, 3, 3)
    shuffled = torch.cat([v[..., :2], slots[:, :, [2, 0, 1]].reshape(4, 2, 9)], dim=-1)
    enc = _encoder()
    assert torch.equal(enc({"state": v}), enc({"state": shuffled}))


def test_off_by_default_and_bad_layouts_are_refused():
    cfg = DiffusionPolicyConfig()
    v = torch.randn(1, 2, 11)
    plain = ObsEncoder(cfg, PolicyShapes(action_dim=2, low_dim={"state": 11}, images={}))
    assert torch.equal(plain({"state": v}), v.reshape(1, -1))
    with pytest.raises(ValueError, match="sort_objects_key='pos'"):
        ObsEncoder(DiffusionPolicyConfig(sort_objects_key="pos"), PolicyShapes(action_dim=2, low_dim={"state": 11}, images={}))
    with pytest.raises(ValueError, match="object_size=4"):
        ObsEncoder(DiffusionPolicyConfig(sort_objects_key="state", objects_offset=2, object_size=4), PolicyShapes(action_dim=2, low_dim={"state": 11}, images={}))
    with pytest.raises(ValueError, match="objects_offset=1"):
        DiffusionPolicyConfig(objects_offset=1)
