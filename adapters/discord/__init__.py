"""Discord: the /check502 app command group, embeds, persistent buttons and alerts (discord.py 2)."""
