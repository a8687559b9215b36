"""``make demo``: the quickstart pipeline on the built-in task, end to end.

Runs ``robopref pipeline experiment=quickstart`` (see
``conf_stage/pipeline/experiment/quickstart.yaml``): push2d "avoid" (push the block to
the green goal, never through the red zone). Demonstrations mostly from an expert that
ignores the zone → a diffusion policy → its rollouts → a scripted person ranks 30
triplets → RRL and RAPL rewards (and labels transferred from another embodiment by
Gromov–Wasserstein) → three rounds of fine-tuning on what RRL ranks highest
(reward-filtered behaviour cloning) → before/after evaluation → ``report.md``.
Everything lands in ``outputs/demo/<time>/``; the last line printed is the report's
path. Extra arguments are passed on as overrides, e.g.
``python -m robopref.demo experiment.rounds=2``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from robopref.cli import main as cli_main


def main(argv: list[str] | None = None) -> int:
    """Run the quickstart pipeline; its exit status."""
    root = (Path("outputs") / "demo" / time.strftime("%Y-%m-%d_%H-%M-%S")).resolve()
    args = ["pipeline", "experiment=quickstart", f"hydra.run.dir={root}", *(sys.argv[1:] if argv is None else argv)]
    print(f"$ robopref {' '.join(args)}", flush=True)
    return cli_main(args) or 0


if __name__ == "__main__":
    sys.exit(main())
