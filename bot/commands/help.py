"""The help text: every command with its usage line, or one with an example."""

from __future__ import annotations

from bot.commands.errors import CommandError, shown, suggest
from bot.commands.model import CHECK_LIMIT, PREFIX, SUBCOMMANDS, USAGE

__all__ = ["help_text", "help_topic"]

_DESCRIPTIONS: dict[str, str] = {
    "check": (
        "Diagnose a URL now: who generated the 502, which hop is broken, and why. "
        "origin= also asks the origin server directly, bypassing the CDN or proxy; "
        "runs= repeats the check (1 to 10) to catch an intermittent failure. "
        "A check takes at most {limit} s in all. It takes the request options too (see watch)."
    ),
    "watch": (
        "Check a URL every interval (30s to 24h) and post here when it fails confirm= checks "
        "in a row (1 to 10), and again when it recovers. expect= lists the status codes that "
        "count as up (default 200-399); timeout= is the limit per check (1s to 30s). "
        "slow= opens a SLOW incident when checks are up but over that latency (e.g. 800ms). "
        "notify= names who the DOWN alert pings (up to 10, as the chat suggests them while "
        "you type, e.g. @alice,@oncall); escalate= pings them again, and pages, when the "
        "incident is not acknowledged that long after its alert (1m to 24h). targets= "
        "names the notification targets it alerts besides this chat (webhook, pagerduty, "
        "email; default: every one the bot has), none for this chat only. "
        "regions= checks it from the bot's probe regions (e.g. eu,us,ap) and quorum= is how "
        "many must see it fail before it is DOWN (default: a majority). "
        "Request options: method=, header= (repeatable), body=, auth=bearer:VAR or"
        " auth=basic:USER_VAR:PASS_VAR (names of the bot's environment variables, never a"
        " secret), keyword= and not_keyword= (the body must or must not contain it), follow=off."
    ),
    "notify": (
        "Change who a monitor's DOWN alert pings, and its escalate= time; off pings no one "
        "and stops escalating. Follow-ups, reminders and the recovery never ping."
    ),
    "list": "List the monitors of this conversation with their ids and state.",
    "export": (
        "Print this conversation's monitors as a monitors file (TOML): put it in the file "
        "CHECK502_MONITORS_FILE names to keep them in git; the file then owns them."
    ),
    "unwatch": "Stop a monitor and delete it.",
    "mute": (
        "Silence a monitor's alerts for a while (1m to 30d). Checks keep running and "
        "history keeps recording."
    ),
    "unmute": "Lift a mute early; alerts are posted again.",
    "maintenance": (
        "A maintenance window for one monitor or all of the channel's (1m to 30d): checks, "
        "history and incidents go on, but no alert leaves, here or to a pager. An outage still "
        "open when the window ends is announced then; one that ended inside it, never. "
        "off ends the window now."
    ),
    "ack": (
        "Acknowledge the current incident: silences its reminders and follow-ups. "
        "The recovery is still posted."
    ),
    "history": "Show a monitor's last checks, its uptime over 24 h and 7 d, and latency p50/p95.",
    "details": "Show the full diagnosis behind a monitor's alert (its open or last incident).",
    "explain": (
        "Explain a pasted error-log line or platform error code (nginx, HAProxy, Envoy, "
        "a CDN, a PaaS): which cause it means and what to do next."
    ),
    "status": (
        "This channel's public status page: its monitors, uptime and incidents, at an"
        " unguessable URL. status on creates it, status off revokes the URL at once,"
        " status says it."
    ),
    "help": "Show all commands, or one command's usage with an example.",
}

_EXAMPLES: dict[str, str] = {
    "check": f"{PREFIX} https://shop.example.com/cart origin=203.0.113.7:8080",
    "watch": (
        f"{PREFIX} watch https://api.example.com/health every=1m confirm=3 expect=2xx"
        ' auth=bearer:API_TOKEN keyword="ok" slow=800ms'
    ),
    "list": f"{PREFIX} list",
    "export": f"{PREFIX} export",
    "unwatch": f"{PREFIX} unwatch 12",
    "mute": f"{PREFIX} mute 12 2h",
    "unmute": f"{PREFIX} unmute 12",
    "maintenance": f"{PREFIX} maintenance all 2h",
    "notify": f"{PREFIX} notify 12 @alice,@oncall escalate=15m",
    "ack": f"{PREFIX} ack 12",
    "history": f"{PREFIX} history 12",
    "details": f"{PREFIX} details 12",
    "explain": (
        f"{PREFIX} explain connect() failed (111: Connection refused) while connecting to upstream"
    ),
    "status": f"{PREFIX} status on",
    "help": f"{PREFIX} help watch",
}

_NOTES = (
    "Durations: 30s, 5m, 1h30m, 2d. Monitor ids: 12 or #12 (list shows them).",
    "Status codes for expect=: 200,204 or 2xx,3xx or 200-299.",
    'Request options (check and watch): method=POST header="X-Api: 1" (repeatable)'
    " body='{\"a\":1}' auth=bearer:API_TOKEN or auth=basic:USER_VAR:PASS_VAR (names of the"
    ' bot\'s environment variables, never secrets) keyword="ok" not_keyword="error"'
    " follow=off.",
)


def help_topic(word: str) -> str:
    """The subcommand ``word`` asks help about (a key of :data:`USAGE`), or a CommandError."""
    name = word.lower()
    if name in USAGE:
        return name
    suggestion = suggest(name, SUBCOMMANDS)
    hint = f" (did you mean {suggestion}?)" if suggestion else ""
    raise CommandError(
        f"No help on {shown(word)}{hint}. Topics: {', '.join(SUBCOMMANDS)}.", USAGE["help"]
    )


def help_text(topic: str | None = None, *, check_limit: float = CHECK_LIMIT) -> str:
    """Plain text (surfaces add their own markup): every command, or one with an example.
    ``check_limit`` is the overall limit of a check, in seconds, as the bot is configured.

    Raises :class:`CommandError` for a topic that is not a key of :data:`USAGE`.
    """
    limit = f"{check_limit:g}"

    def described(name: str) -> str:
        return _DESCRIPTIONS[name].format(limit=limit)

    if topic is None:
        lines = ["check502 diagnoses HTTP 502 Bad Gateway errors. Commands:", ""]
        for name in SUBCOMMANDS:
            lines += [USAGE[name], f"    {described(name)}"]
        return "\n".join([*lines, "", *_NOTES])
    name = help_topic(topic)
    return "\n".join([USAGE[name], described(name), f"Example: {_EXAMPLES[name]}"])
