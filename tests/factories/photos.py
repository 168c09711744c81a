"""factory_boy factories for photos."""
