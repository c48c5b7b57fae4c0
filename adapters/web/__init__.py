"""The bot's web home: one aiohttp server on ``$PORT`` for every HTTP surface.

Slack's events, the Telegram webhook, ``/healthz`` and ``/readyz``, ``/metrics``, the status
pages and badges all share it, so a one-port platform runs every surface.
"""
