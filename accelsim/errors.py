"""Errors a user can cause.

Anything a user can get wrong (a config field, a file, a value, a model) raises
:class:`UserError` with a message that names the offending thing and its value. The CLI
prints that one line and exits with status 2; everything else is a bug and crashes loudly.
"""


class UserError(ValueError):
    """Bad input from a user: one clear line, exit status 2 from the CLI."""
