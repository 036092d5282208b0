"""The one error type for files of the run-directory protocol."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Union


class ProtocolError(Exception):
    """A protocol file is missing, unreadable or holds a bad value.

    Always names the file and, where one is at fault, the field.
    """

    def __init__(self, path: Union[str, Path], field: Optional[str], message: str):
        self.path = str(path)
        self.field = field
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path if not self.field else "%s: field %r" % (self.path, self.field)
        return "%s: %s" % (where, self.message)
