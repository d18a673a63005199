"""Helpers shipped for tests, demos and third-party backends: example vocabulary, contract bases."""
