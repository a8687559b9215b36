"""Command-line stages: ``robopref STAGE [hydra overrides]``.

Each stage is a module ``robopref.stages.<name>`` with a config dataclass registered
as ``<name>_schema``, a YAML config ``conf/<name>.yaml`` and a ``run(cfg)`` function.
This table is the list ``robopref --help`` prints, one line each.
"""

STAGES: dict[str, str] = {
    "app": "serve the preference labelling page (pairs, triplets) for people; prints its URL",
    "collect": "roll a policy (scripted expert or random) in an env and write a dataset",
    "convert": "bring a LeRobot dataset (parquet + mp4, v2.x or v3.0) into robopref's HDF5 layout",
    "export": "write a robopref dataset as a LeRobot dataset (v3.0: parquet, mp4, meta) for LeRobot's training tools",
    "eval": "evaluate a policy over N episodes in parallel: success, return, 95% CIs, videos, report",
    "info": "what a dataset, preference store, checkpoint, LeRobot folder or zarr buffer holds (text or json=true)",
    "label": "create segment queries and answer them with a scripted teacher (B-Pref)",
    "policy": "train a diffusion policy (low-dim or image) on demonstrations; roll it out; resume",
    "robot": "real-robot sessions via a robot server: `robot record` (teleop) or `robot rollout policy=...`, crash-safe dataset + mp4s",
    "reward": "learn a reward (Bradley-Terry ensemble, RRL, RAPL visual, RLHF visual) from the preference store; relabel datasets",
    "transfer": "transfer preference labels from a labelled source task to a target task (Gromov-Wasserstein, PEARL's CPA)",
    "align": "align a diffusion policy with preferences (Diffusion-DPO) or a learned reward (best-of-N)",
    "pipeline": "a whole experiment (experiment=quickstart): demos -> policy -> labels -> rewards -> alignment -> report.md; resumable",
}
