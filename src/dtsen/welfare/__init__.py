"""Welfare ranking: a proxy means test trained on a consumption survey, scored on the registry, ranked into
population-weighted desil with intervals and explanations (see docs/welfare.md)."""
