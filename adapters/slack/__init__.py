"""Slack: the /check502 slash command, its buttons, and alerts in threads (slack-bolt, async)."""
