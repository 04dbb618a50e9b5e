"""Linkage and consolidation: one person, one family, stable IDs (see docs/linkage.md)."""
