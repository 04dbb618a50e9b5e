"""The quarterly cycle: snapshots, civil-registration events, corrections and period diffs."""
