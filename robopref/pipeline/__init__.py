"""The experiment pipeline: run robopref stages in order, checkpointed, and report (``robopref pipeline``)."""
