"""``make demo``: the main job on the built-in default task, end to end.

On push2d "avoid" (push the blocks to the green goal, never through the red zone):
collect rollouts from the scripted expert that honours the zone and from the
"unaligned" expert that ignores it, let a scripted person (B-Pref's mistake teacher)
answer 100 queries about them, learn PEARL's Gaussian robust reward from those labels,
and report how well it agrees with the person's hidden preference. Everything lands in
``outputs/demo/<time>/``; the last lines printed are the dataset and a video.
Later stages extend this into the full quickstart pipeline (policy alignment).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from robopref.cli import main as cli_main


def main() -> int:
    """Run the demo stages in order; exit status of the first failing stage."""
    root = (Path("outputs") / "demo" / time.strftime("%Y-%m-%d_%H-%M-%S")).resolve()
    aligned, unaligned, store = root / "aligned.hdf5", root / "unaligned.hdf5", root / "prefs.sqlite"
    steps = [
        ["collect", "env=push2d_avoid", "episodes=20", "noise=0.2", "videos=2", f"output={aligned}", f"hydra.run.dir={root / 'collect_aligned'}"],
        ["collect", "env=push2d_avoid", "episodes=20", "noise=0.2", "aligned=false", "videos=2", f"output={unaligned}", f"hydra.run.dir={root / 'collect_unaligned'}"],
        ["label", f"dataset=[{aligned},{unaligned}]", f"store={store}", "teacher=mistake", "queries=100", "segment_length=25", f"hydra.run.dir={root / 'label'}"],
        ["reward", "reward=rrl", f"store={store}", "progress=false", f"hydra.run.dir={root / 'reward'}"],
    ]
    for args in steps:
        print(f"\n$ robopref {' '.join(args)}", flush=True)
        rc = cli_main(args)
        if rc:
            return rc
    metrics = json.loads((root / "reward" / "metrics.json").read_text()).get("heldout", {})
    print(f"\nlearned reward vs the person's hidden preference on held-out segments: "
          f"accuracy {metrics.get('accuracy', float('nan')):.2f}, Spearman {metrics.get('spearman', float('nan')):.2f}")
    print(f"reward: {root / 'reward' / 'reward.pt'}")
    print(f"dataset: {unaligned}")
    print(f"video: {root / 'collect_unaligned' / 'videos' / 'demo_0.mp4'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
