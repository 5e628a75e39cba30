"""Database-backed experiment queue: register a study's (optimizer, task, seed) cells, run workers
that claim them atomically, heartbeat, and write trials and final status (docs/queue.md).

Importing this package stays light; sqlalchemy is imported by its submodules only."""

QUEUE_URL_PREFIXES = ("sqlite:", "postgresql:", "postgresql+", "postgres:")


def is_queue_url(text: str) -> bool:
    """True for a queue database URL (sqlite:///..., postgresql://...), as opposed to a path."""
    return str(text).startswith(QUEUE_URL_PREFIXES)
