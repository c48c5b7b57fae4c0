"""Telegram: /check502 in chats, groups and forum topics, inline buttons, alerts as replies
(python-telegram-bot, async)."""
