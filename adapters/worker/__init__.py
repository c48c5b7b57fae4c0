"""``check502-worker --region NAME``: a probe worker taking one region's checks from Redis
(:mod:`bot.regions.jobs`) and sending their results back to the coordinator."""
