"""Sanctions screening: list loaders (OFAC SDN CSV, UN consolidated XML, crypto address lists),
watchman-style name normalisation and Jaro-Winkler scoring, and an in-memory index."""
