"""The ``dtsen`` command line: one Typer app, a sub-app per area."""
