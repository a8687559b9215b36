"""The label transfer rule against a hand-worked example, and its invariants."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from robopref.transfer.labels import SourceLabels, TransferredLabels, all_pairs, label_matrices, transfer_labels

# 3 source trajectories (rows) x 2 target trajectories (columns); column sums q = (0.5, 0.5)
PLAN = np.array([[0.3, 0.0], [0.1, 0.2], [0.1, 0.3]])
# x0 ≻ x1 for sure; P(x2 ≻ x1) = 0.25. Symmetrised: z_10 = 0, z_12 = 0.75.
LABELS = SourceLabels(first=[0, 2], second=[1, 1], z=[1.0, 0.25])


def test_hand_worked_example():
    # pair (j=0, l=1): Σ T_i0 T_k1 z_ik over (0,1), (1,0), (2,1), (1,2)
    num = 0.3 * 0.2 * 1.0 + 0.1 * 0.0 * 0.0 + 0.1 * 0.2 * 0.25 + 0.1 * 0.3 * 0.75  # 0.0875
    den = 0.3 * 0.2 + 0.1 * 0.0 + 0.1 * 0.2 + 0.1 * 0.3  # 0.11
    out = transfer_labels(PLAN, LABELS, np.array([0, 1]), np.array([1, 0]))
    assert out.value[0] == pytest.approx(num / den) == pytest.approx(0.7954545454)
    assert out.mass[0] == pytest.approx(den)
    assert out.confidence[0] == pytest.approx(den / (0.5 * 0.5)) == pytest.approx(0.44)
    # the reverse pair: same mass, complementary label (antisymmetry of the rule)
    assert out.value[1] == pytest.approx(1.0 - num / den)
    assert out.mass[1] == pytest.approx(den)


def test_sparse_and_dense_plans_agree_and_scale_free():
    j, l = all_pairs(2)
    dense = transfer_labels(PLAN, LABELS, j, l)
    sparse = transfer_labels(sp.csr_matrix(PLAN * 7.0), LABELS, j, l)  # the normalisation removes the plan's scale
    np.testing.assert_allclose(dense.value, sparse.value)
    np.testing.assert_allclose(dense.confidence, sparse.confidence)


def test_symmetrised_mask_and_repeated_labels_averaged():
    labels = SourceLabels(first=[0, 1, 0], second=[1, 0, 2], z=[1.0, 0.5, 0.0], w=[1.0, 1.0, 1.0])
    z, w = label_matrices(labels, 3)
    # (0,1) was labelled 1 and (1,0) 0.5, i.e. (0,1) 0.5: the mean is 0.75
    assert z[0, 1] == pytest.approx(0.75) and z[1, 0] == pytest.approx(0.25)
    np.testing.assert_allclose((z + z.T).toarray(), w.toarray())
    assert w.diagonal().sum() == 0 and w.sum() == 4


def test_diagonal_mass_carries_no_label():
    # both target trajectories go to source 0 only: no labelled pair receives mass
    plan = np.array([[0.5, 0.5], [0.0, 0.0]])
    out = transfer_labels(plan, SourceLabels([0], [1], [1.0]), np.array([0]), np.array([1]))
    assert out.mass[0] == 0 and out.confidence[0] == 0 and out.value[0] == 0.5
    assert not out.keep(0.0)[0]


def test_uniform_plan_confidence_is_label_density():
    m, n = 4, 3
    plan = np.full((m, n), 1.0 / (m * n))
    out = transfer_labels(plan, SourceLabels([0, 2], [1, 3], [1.0, 0.0]), *all_pairs(n))
    np.testing.assert_allclose(out.confidence, 4 / m**2)  # 4 ordered labelled pairs of 16
    np.testing.assert_allclose(out.value, 0.5)


def test_bad_inputs():
    with pytest.raises(ValueError, match="different trajectories"):
        SourceLabels([1], [1], [1.0])
    with pytest.raises(ValueError, match="probabilities"):
        SourceLabels([0], [1], [1.5])
    with pytest.raises(ValueError, match=r"source label indices"):
        transfer_labels(PLAN, SourceLabels([0], [5], [1.0]), np.array([0]), np.array([1]))
    with pytest.raises(ValueError, match="target pair indices"):
        transfer_labels(PLAN, LABELS, np.array([0]), np.array([2]))


def test_training_labels_hard_and_soft():
    out = TransferredLabels(np.array([0, 0, 1]), np.array([1, 2, 2]), value=np.array([0.8, 0.3, 0.5]),
                            confidence=np.array([1.0, 0.5, 1.0]), mass=np.ones(3))
    y, w = out.training_labels()  # hard is the default: the side ẑ picks, weighted by |2ẑ − 1|
    np.testing.assert_allclose(y, [1.0, 0.0, 0.5])
    np.testing.assert_allclose(w, [0.6, 0.2, 0.0])
    y, w = out.training_labels("soft")  # PEARL's soft labels, weighted by the transport-mass share
    np.testing.assert_allclose(y, out.value)
    np.testing.assert_allclose(w, out.confidence)
    with pytest.raises(ValueError, match="label_mode='sharp': expected one of hard, soft"):
        out.training_labels("sharp")
