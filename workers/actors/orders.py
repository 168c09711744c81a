"""orders actors."""
