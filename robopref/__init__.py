"""robopref: robot learning from human preferences."""

import os as _os

# OpenMP threads that spin while waiting make torch 10-30x slower when the machine is
# busier than its core count (measured: 155 s vs 17 s for one small reward fit with
# two threads under load). Passive waiting costs nothing when the machine is idle.
# It must be set before torch loads OpenMP, hence here; a user's own setting wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
