"""The one console script: ``robopref STAGE [hydra overrides]``.

``robopref --help`` lists the stages; ``robopref STAGE --help`` prints that stage's
config (Hydra's help); ``robopref STAGE -m key=a,b`` runs a sweep (joblib launcher,
local processes). Every run writes its config (``.hydra/``), a log and its outputs in
its run directory ``outputs/<stage>/<date_time>``.
"""

from __future__ import annotations

import difflib
import importlib
import sys
from typing import Sequence

from robopref.stages import STAGES
from robopref.utils.openmp import spin_openmp_workers

CONFIG_PATH = "pkg://robopref.conf"


def usage() -> str:
    """Text of ``robopref --help``."""
    width = max(len(s) for s in STAGES)
    lines = [
        "usage: robopref STAGE [key=value ...] [-m] [--help]",
        "",
        "Robot learning from human preferences. Each stage is a Hydra app configured by conf/STAGE.yaml.",
        "",
        "stages:",
        *[f"  {name.ljust(width)}  {desc}" for name, desc in STAGES.items()],
        "",
        "examples:",
        "  robopref collect env=push2d_avoid episodes=20",
        "  robopref collect --help             # the stage's config and config groups",
        "  robopref collect -m seed=0,1,2      # a sweep, run in parallel local processes",
    ]
    return "\n".join(lines)


_FLAGS_WITH_VALUE = {"--cfg", "-c", "--package", "-p", "--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd", "--info", "--experimental-rerun"}


def _split_flags(args: Sequence[str]) -> tuple[list[str], list[str]]:
    """Separate Hydra flags (with their values) from overrides, keeping each list's order."""
    flags: list[str] = []
    overrides: list[str] = []
    it = iter(args)
    for a in it:
        if a.startswith("-"):
            flags.append(a)
            if a in _FLAGS_WITH_VALUE:
                nxt = next(it, None)
                if nxt is not None:
                    flags.append(nxt)
        else:
            overrides.append(a)
    return flags, overrides


def _stage_group_dir(stage: str) -> list[str]:
    """``--config-dir`` for config groups only this stage sees (conf_stage/STAGE/).

    All stages share one config root, so a group folder there (e.g. ``policy/``, the
    architectures of the ``policy`` stage) would turn ``policy=...`` into a group
    choice in every other stage too (``robopref eval policy=best.ckpt``). Groups that
    belong to one stage live in ``conf_stage/<stage>/`` and are added here.
    """
    from importlib.resources import files

    path = files("robopref.conf_stage").joinpath(stage)
    return ["--config-dir", str(path)] if path.is_dir() else []


def main(argv: Sequence[str] | None = None) -> int | None:
    """Dispatch to a stage; returns the process exit status for unknown stages."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    stage, rest = args[0], args[1:]
    if stage not in STAGES:
        close = difflib.get_close_matches(stage, STAGES, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        print(f"robopref: unknown stage '{stage}'.{hint} Stages: {', '.join(STAGES)}", file=sys.stderr)
        return 2
    spin_openmp_workers(stage, rest)  # before torch is imported: see robopref.utils.openmp
    module = importlib.import_module(f"robopref.stages.{stage}")  # registers <stage>_schema
    rest = getattr(module, "preprocess_args", list)(rest)  # e.g. `robot record ...` -> `robot mode=record ...`

    import hydra

    # Hydra's parser wants flags (-m, --help, --cfg job) before the key=value overrides.
    flags, overrides = _split_flags(rest)
    flags += _stage_group_dir(stage)
    sys.argv = [f"robopref-{stage}", *flags, f"hydra.job.name={stage}", *overrides]
    app = hydra.main(config_path=CONFIG_PATH, config_name=stage, version_base="1.3")(module.run)
    app()
    return 0


if __name__ == "__main__":
    sys.exit(main())
