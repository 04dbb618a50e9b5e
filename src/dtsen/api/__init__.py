"""The serving plane's HTTP application: one FastAPI app, routers per audience (public, staff, machine)."""
