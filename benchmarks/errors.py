"""User-facing errors: the CLI prints them as one line and exits non-zero."""


class HyperensError(Exception):
    """Bad input or an unusable environment; its message is one line meant for the user."""


class UnknownNameError(HyperensError, KeyError):
    """A registry lookup failed; the message lists the valid names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class StoreCorruptError(HyperensError):
    """A run directory holds a truncated or unreadable file."""


class DatasetUnavailableError(HyperensError):
    """A dataset cannot be loaded offline (not prepared under data_dir)."""
