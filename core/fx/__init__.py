"""FX rates: sources, stored rates with their provenance, staleness and disagreement guards, overrides."""
