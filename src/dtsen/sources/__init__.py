"""Ingestion: landing zone, mappings as data, readers, standardization and validation, quarantine, reports."""
