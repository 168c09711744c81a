"""support actors."""
