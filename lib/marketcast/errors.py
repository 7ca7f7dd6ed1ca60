"""The error a user can cause and fix: bad paths, bad configuration, bad input."""


class UserError(Exception):
    """A problem in what the user passed; the jobs print its message and exit with status 2."""
