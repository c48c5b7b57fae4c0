"""Probe regions: monitors checked from several places through Redis workers, decided by quorum.

Jobs and results through Redis (:mod:`bot.regions.jobs`), the coordinator in the front process
(:mod:`bot.regions.coordinator`) and the quorum rule (:mod:`bot.regions.quorum`).
"""
