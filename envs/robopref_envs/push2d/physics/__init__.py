"""pymunk world and robot embodiments of the 2D pushing tasks."""

from robopref_envs.push2d.physics.embodiments import EMBODIMENTS, Embodiment, get_embodiment
from robopref_envs.push2d.physics.world import World

__all__ = ["EMBODIMENTS", "Embodiment", "World", "get_embodiment"]
