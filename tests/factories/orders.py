"""factory_boy factories for orders."""
