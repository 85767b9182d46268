"""User-facing errors of the economics package (Chinese first, then English; file and row named)."""


class EconomicsError(ValueError):
    """A data or parameter problem the user can fix; the CLI prints it without a traceback."""
