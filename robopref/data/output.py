"""Where a stage writes its dataset, and the rule that protects one already there: a
re-run must not discard episodes someone collected, so an existing file is replaced only
when the user says ``overwrite=true`` (or extended with ``append=true``)."""

from __future__ import annotations

from pathlib import Path


def resolve_output(output: str, out_dir: Path) -> Path:
    """``output`` as a path: absolute as given (``~`` expanded), relative ones in the run directory ``out_dir``."""
    p = Path(output).expanduser()
    return p if p.is_absolute() else out_dir / p


def check_output(output: Path, append: bool, overwrite: bool, can_append: bool = True) -> None:
    """Refuse to replace an existing dataset unless ``overwrite`` says so; the error names the
    file and how many episodes it holds (and offers ``append=true`` where the stage has it)."""
    if append and overwrite:
        raise ValueError("append=true and overwrite=true: choose one (append adds episodes to the output file, overwrite replaces it)")
    if output.exists() and not (append or overwrite):
        from robopref.data.dataset import Dataset

        try:
            with Dataset(output, validate=False) as ds:
                held = f"{len(ds.demos)} episodes"
        except Exception:  # noqa: BLE001 - only for the message; the file is left alone either way
            held = "not a readable dataset"
        more = "append=true to add the new episodes to it, " if can_append else ""
        raise FileExistsError(f"output={output} already exists ({held}): pass {more}overwrite=true to replace it, or another output= path")
