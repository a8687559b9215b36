"""Simulated tasks for robopref; importing it registers the built-in Gymnasium envs."""

from robopref_envs import push2d

__all__ = ["push2d"]
