"""Offscreen MuJoCo camera rendering, fast on the CPU.

Shadows and reflections cost about 5x on Mesa's software EGL and carry nothing a
64x64 policy needs, so they are switched off on every frame.
"""

from __future__ import annotations

import atexit
import weakref

import mujoco
import numpy as np

# Meta-World's corner cameras are mounted with their up vector pointing down: their raw
# frames are upside down. A 180-degree rotation (not a mirror) gives the true view.
UPSIDE_DOWN_CAMERAS = frozenset({"corner", "corner2", "corner3", "corner4"})

# EGL contexts freed by the garbage collector at interpreter exit raise noisy errors
# (mujoco's own exit hook has terminated the EGL display by then); close the live ones
# first, from a hook registered after mujoco's (exit hooks run last-in, first-out).
_LIVE: "weakref.WeakSet[CameraRenderer]" = weakref.WeakSet()
_HOOKED = False


def _close_all() -> None:
    for r in list(_LIVE):
        r.close()


class CameraRenderer:
    """Renders named cameras of one MuJoCo model to uint8 HWC frames of one size."""

    def __init__(self, model: mujoco.MjModel, size: int) -> None:
        self.size = int(size)
        global _HOOKED
        self._renderer: mujoco.Renderer | None = mujoco.Renderer(model, self.size, self.size)
        _LIVE.add(self)
        if not _HOOKED:  # after the first Renderer, so after mujoco.egl registered its own hook
            atexit.register(_close_all)
            _HOOKED = True

    def render(self, data: mujoco.MjData, camera: str) -> np.ndarray:
        """The current frame of ``camera`` (raises ValueError naming the camera if unknown)."""
        self._renderer.update_scene(data, camera=camera)
        flags = self._renderer.scene.flags
        flags[mujoco.mjtRndFlag.mjRND_SHADOW] = 0
        flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = 0
        frame = self._renderer.render()
        if camera in UPSIDE_DOWN_CAMERAS:
            frame = frame[::-1, ::-1]
        return np.ascontiguousarray(frame)

    def close(self) -> None:
        if self._renderer is not None:
            try:
                self._renderer.close()
            except Exception:  # at exit, another library's hook may have terminated EGL already
                for attr in ("_gl_context", "_mjr_context"):
                    ctx = getattr(self._renderer, attr, None)
                    if ctx is not None and hasattr(ctx, "_context"):
                        ctx._context = None  # nothing left to free: keep __del__ from retrying
                    setattr(self._renderer, attr, None)
            self._renderer = None


def camera_names(model: mujoco.MjModel) -> list[str]:
    """Names of the cameras a model defines."""
    return [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_CAMERA, i) for i in range(model.ncam)]
