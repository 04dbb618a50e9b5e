"""dtsen: Indonesia's single socio-economic registry (DTSEN), from source files to quarterly snapshots."""

__version__ = "0.1.0"
