"""Synthetic population generator: real regions, calibrated welfare, realistic dirt, ground truth."""
