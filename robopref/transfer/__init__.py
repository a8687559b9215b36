"""Cross-task preference transfer (PEARL's CPA): Gromov–Wasserstein plans between the
trajectories of a labelled source task and a target task, and the label transfer rule.

See docs/transfer.md; the ``robopref transfer`` stage drives :mod:`robopref.transfer.pipeline`.
"""

from robopref.transfer.baselines import nearest_pair_labels
from robopref.transfer.distances import distance_matrix
from robopref.transfer.evaluation import transfer_accuracy
from robopref.transfer.labels import SourceLabels, TransferredLabels, transfer_labels
from robopref.transfer.landmarks import gw_landmarks
from robopref.transfer.pipeline import FewShot, TransferSettings, transfer
from robopref.transfer.plans import Plan, gw_entropic, gw_exact, gw_quantized

__all__ = [
    "FewShot",
    "Plan",
    "SourceLabels",
    "TransferSettings",
    "TransferredLabels",
    "distance_matrix",
    "gw_entropic",
    "gw_exact",
    "gw_landmarks",
    "gw_quantized",
    "nearest_pair_labels",
    "transfer",
    "transfer_accuracy",
    "transfer_labels",
]
