"""Browser tests use the ML tests' tiny-model fixtures (the whole pipeline runs for real)."""

from tests.models.conftest import tiny_base, tiny_model_dirs  # noqa: F401
