"""robopref: robot learning from human preferences."""

from robopref.utils.openmp import wait_passively as _wait_passively

# Before torch loads OpenMP: sleeping worker threads unless the user chose otherwise; the
# command line's batch stages spin briefly instead (robopref.utils.openmp says why).
_wait_passively()

__version__ = "0.1.0"
