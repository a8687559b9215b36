"""Exceptions with messages that say what went wrong and what to do about it."""

from __future__ import annotations


class HardwareError(RuntimeError):
    """Base class of every robopref_hardware error."""


class MissingDependencyError(HardwareError, ImportError):
    """A vendor SDK (an optional extra) is not installed."""

    def __init__(self, backend: str, module: str, extra: str) -> None:
        super().__init__(
            f"the '{backend}' backend needs the Python module '{module}', which is not installed. "
            f"Install it with: pip install 'robopref-hardware[{extra}]'"
        )


class NotConnectedError(HardwareError):
    """A device was used before ``connect()`` or after ``disconnect()``."""


class EmergencyStopError(HardwareError):
    """The emergency stop is latched: commands are refused until it is released."""


def require(module: str, backend: str, extra: str):
    """Import ``module`` or raise :class:`MissingDependencyError` naming the extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:  # keep the original cause visible
        raise MissingDependencyError(backend, module, extra) from e
