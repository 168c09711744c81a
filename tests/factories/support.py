"""factory_boy factories for support."""
