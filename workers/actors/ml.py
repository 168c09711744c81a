"""ml actors."""
