"""Errors the core reports to its callers: one clear sentence, no traceback."""


class ImageError(Exception):
    """The input is not a readable image (bad archive, missing blob, unknown reference...).

    The message names what failed and where; the CLI prints it as one line and exits 2.
    """


class EngineError(ImageError):
    """The Docker or Podman engine could not be reached or refused the request."""


class Cancelled(Exception):
    """Indexing was cancelled by the caller (Esc in the TUI)."""


class ConfigError(Exception):
    """A `.dive-ci` file dive would refuse: the CLI prints `ci configuration error: ...` on
    stdout and exits 1, as dive does."""
