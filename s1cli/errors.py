"""Errors a user can fix. The CLI prints these as one line and exits with code 2."""

from __future__ import annotations


class S1Error(Exception):
    """Base class for every error caused by input, configuration or a remote service."""

    exit_code = 2


class InputError(S1Error):
    """A table, file or value given by the user is missing or malformed."""


class ConfigError(S1Error):
    """An option or option combination cannot work."""


class RemoteError(S1Error):
    """A model server or API failed in a way retrying did not fix."""


class Notice(UserWarning):
    """Something the user should know that is not an error (an id derived for an id-less table): the
    library issues it with ``warnings.warn(Notice(...))`` and the CLI prints it once on stderr."""


def located(where: str, message: str) -> str:
    """Prefix a message with its location, e.g. ``pool.jsonl:17: column 'id' is missing``."""
    return f"{where}: {message}" if where else message
