"""The thin API layer: provider, unit of work and repositories."""
