"""Data sharing with agencies: access requests, their review and BAST, and extracts from the served
snapshot."""
