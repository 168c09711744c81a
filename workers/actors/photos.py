"""photos actors."""
