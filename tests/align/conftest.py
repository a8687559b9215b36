"""The policy tests' small LineEnv demonstration dataset, reused for alignment."""

from tests.policies.conftest import line_dataset  # noqa: F401
