"""``make demo``: the main job on the built-in default task, end to end.

Today it collects a push2d "avoid" dataset with the scripted expert (a spread of
noise, half the episodes from the unaligned expert that ignores the red zone) and
ends by printing the dataset and a video path. Later stages extend it into the full
quickstart pipeline (reward learning and policy alignment).
"""

from __future__ import annotations

import sys

from robopref.cli import main as cli_main


def main() -> int:
    """Run the demo stages in order; exit status of the first failing stage."""
    steps = [
        ["collect", "env=push2d_avoid", "episodes=20", "noise=0.2", "videos=2", "output=demo_aligned.hdf5"],
        ["collect", "env=push2d_avoid", "episodes=20", "noise=0.2", "aligned=false", "videos=2", "output=demo_unaligned.hdf5"],
    ]
    for args in steps:
        print(f"\n$ robopref {' '.join(args)}", flush=True)
        rc = cli_main(args)
        if rc:
            return rc
    return 0


if __name__ == "__main__":
    sys.exit(main())
