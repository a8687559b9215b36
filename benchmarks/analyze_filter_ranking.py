"""Does a learned reward find the episodes that honour the preference? (issue 8 diagnostics)

Reward-filtered fine-tuning with ``filtered.success_only`` imitates the top of the
*successful* episodes by learned return, so what matters is how the reward orders
successful episodes that honour the preference (``infos/violation`` never set) against
successful ones that break it. For each pipeline run and dataset (the round-1 rollouts
the person labelled, and the demonstrations the filtering ranks) this prints one JSON
object: the AUC of that ordering (0.5: chance), the share of honouring episodes among
the successful ones and in the top ``keep`` of them, the mean lengths of the two kinds,
the correlation of the learned return with episode length (a reward that learned
"shorter is better" shows a strong negative one), and the same AUC and top share for the
person's own score (summed ``infos/pref_score``): the best any learned reward can do, low
when the person's graded score does not hold the preference as a rule.

    python benchmarks/analyze_filter_ranking.py benchmarks/.data/alignment/quickstart_seed4_<stamp>
    python benchmarks/analyze_filter_ranking.py RUN... --reward round_1/reward_rrl/reward.pt --per-step
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from robopref.align.filtered import rank_episodes, successful_episodes
from robopref.data.pool import DatasetPool
from robopref.rewards.loading import load_reward


def ranking_stats(ranked: list[tuple[str, float]], pool: DatasetPool, dataset: str, keep: float) -> dict[str, float]:
    """AUC of honouring vs not among the successful episodes of ``ranked`` (best first), and what the top ``keep`` holds."""
    ds = pool.get(dataset)
    done = set(successful_episodes(ds))
    returns, honours, lengths = [], [], []
    for demo, value in ranked:
        if demo not in done:
            continue
        returns.append(value)
        honours.append(not ds.read(demo, "infos/violation").any())
        lengths.append(ds.num_samples(demo))
    r, h, n = np.array(returns), np.array(honours, dtype=bool), np.array(lengths, dtype=np.float64)
    if h.all() or not h.any():
        raise SystemExit(f"{dataset}: its successful episodes are all of one kind (honouring: {bool(h.any())}); no ordering to measure")
    diff = r[h][:, None] - r[~h][None, :]
    k = max(1, int(round(keep * len(r))))
    return {"successful": int(len(r)), "honouring_share": round(float(h.mean()), 3),
            "auc": round(float((diff > 0).mean() + 0.5 * (diff == 0).mean()), 3),
            "kept_honouring_share": round(float(h[:k].mean()), 3),
            "length_honouring": round(float(n[h].mean()), 1), "length_breaking": round(float(n[~h].mean()), 1),
            "corr_return_length": round(float(np.corrcoef(r, n)[0, 1]), 3)}


def person_ranking(pool: DatasetPool, dataset: str) -> list[tuple[str, float]]:
    """``dataset``'s episodes by the person's own summed ``infos/pref_score``, best first."""
    ds = pool.get(dataset)
    scored = [(demo, float(ds.read(demo, "infos/pref_score").sum())) for demo in ds.demos]
    return sorted(scored, key=lambda item: -item[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", type=Path, help="pipeline run directories")
    ap.add_argument("--reward", default="round_1/reward_rrl/reward.pt", help="reward checkpoint, relative to each run")
    ap.add_argument("--datasets", nargs="+", default=["round_1/rollouts.hdf5", "demos/demos.hdf5"], help="datasets, relative to each run")
    ap.add_argument("--keep", type=float, default=0.33)
    ap.add_argument("--per-step", action="store_true", help="rank by the learned return per step (filtered.rank_by=per_step)")
    args = ap.parse_args()
    for run in args.runs:
        model = load_reward(run / args.reward)
        for rel in args.datasets:
            pool, path = DatasetPool(), str(run / rel)
            ranked = rank_episodes(model, pool, path, per_step=args.per_step)
            truth = ranking_stats(person_ranking(pool, path), pool, path, args.keep)
            print(json.dumps({"run": str(run), "reward": args.reward, "dataset": rel, "per_step": args.per_step,
                              **ranking_stats(ranked, pool, path, args.keep),
                              "person_auc": truth["auc"], "person_kept_honouring_share": truth["kept_honouring_share"]}), flush=True)


if __name__ == "__main__":
    main()
