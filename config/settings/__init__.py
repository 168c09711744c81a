"""Settings package: base (shared, env-driven), local (embedded defaults), test, production."""
