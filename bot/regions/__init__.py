"""Probe regions: monitors checked from several places through Redis workers, decided by quorum."""
