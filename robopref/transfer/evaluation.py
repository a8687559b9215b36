"""Transfer accuracy: agreement of transferred hard labels with the target's oracle."""

from __future__ import annotations

import numpy as np

from robopref.transfer.labels import TransferredLabels


def transfer_accuracy(result: TransferredLabels, returns: np.ndarray, keep: np.ndarray | None = None) -> dict[str, float]:
    """Accuracy of ẑ > 0.5 against "the first trajectory has the higher true return".

    Counted over the pairs whose oracle label is not a tie (equal returns) and, with
    ``keep``, that passed the confidence threshold; a transferred 0.5 counts as wrong.
    ``weighted_accuracy`` weighs each pair by its confidence. ``coverage`` is the share
    of non-tied pairs that were kept.
    """
    returns = np.asarray(returns, dtype=np.float64)
    r0, r1 = returns[result.first], returns[result.second]
    decided = r0 != r1
    kept = decided if keep is None else decided & keep
    correct = ((result.value > 0.5) & (r0 > r1)) | ((result.value < 0.5) & (r0 < r1))
    w = result.confidence[kept]
    n = int(kept.sum())
    return {
        "accuracy": float(correct[kept].mean()) if n else float("nan"),
        "weighted_accuracy": float((w * correct[kept]).sum() / w.sum()) if n and w.sum() > 0 else float("nan"),
        "pairs": float(n),
        "coverage": float(n / max(1, int(decided.sum()))),
    }
