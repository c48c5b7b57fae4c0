"""Checks from several regions: jobs and results through Redis (:mod:`bot.regions.jobs`),
the coordinator in the front process (:mod:`bot.regions.coordinator`) and the quorum rule
(:mod:`bot.regions.quorum`)."""
