"""factory_boy factories for ml."""
