"""Aligning diffusion policies with learned rewards and preferences (best-of-N, Diffusion-DPO)."""
