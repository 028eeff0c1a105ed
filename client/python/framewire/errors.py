"""Exceptions raised by the framewire client.

Every failure the server reports arrives as a status code (proto/PROTOCOL.md, section 4) and
becomes an instance of the matching subclass of :class:`Error`. Each carries ``.status``
(the status name, e.g. ``"NOT_FOUND"``), ``.code`` (its number), ``.message`` (the server's
words), ``.worker`` (the worker that answered, empty when the broker did) and
``.request_id``.

Where a Python built-in exception means the same thing, the subclass derives from it as
well, so ``except FileNotFoundError`` or ``except TimeoutError`` also work:

=================== ============== ========================
class               status         also a
=================== ============== ========================
``NotFound``        NOT_FOUND      ``FileNotFoundError``
``OutOfRange``      OUT_OF_RANGE   ``IndexError``
``InvalidArgument`` INVALID_ARGUMENT ``ValueError``
``Forbidden``       FORBIDDEN      ``PermissionError``
``Busy``            BUSY
``Timeout``         TIMEOUT        ``TimeoutError``
``DecodeError``     DECODE_ERROR
``Unavailable``     UNAVAILABLE
``Internal``        INTERNAL
``ProtocolError``   INTERNAL       (a malformed reply; a subclass of ``Internal``)
=================== ============== ========================
"""

from __future__ import annotations

__all__ = [
    "Error",
    "NotFound",
    "OutOfRange",
    "InvalidArgument",
    "Forbidden",
    "Busy",
    "Timeout",
    "DecodeError",
    "Unavailable",
    "Internal",
    "ProtocolError",
    "STATUS_NAMES",
    "error_for_status",
]

# Status codes of framewire.proto.StatusCode, by number.
STATUS_NAMES = {
    0: "OK",
    1: "NOT_FOUND",
    2: "OUT_OF_RANGE",
    3: "INVALID_ARGUMENT",
    4: "FORBIDDEN",
    5: "BUSY",
    6: "TIMEOUT",
    7: "DECODE_ERROR",
    8: "UNAVAILABLE",
    9: "INTERNAL",
}


class Error(Exception):
    """Base class of every error the framewire client raises for a failed request."""

    #: The status name this class stands for (overridden by the subclasses).
    STATUS = "INTERNAL"

    def __init__(self, message: str, *, status: str | None = None, code: int | None = None,
                 worker: str = "", request_id: int | None = None):
        super().__init__(message)
        self.message = message
        self.status = status if status is not None else self.STATUS
        if code is None:
            code = next((c for c, n in STATUS_NAMES.items() if n == self.status), None)
        self.code = code
        self.worker = worker
        self.request_id = request_id

    def __str__(self) -> str:
        return f"{self.status}: {self.message}" if self.message else self.status

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status!r})"

    def __reduce__(self):  # keep pickling (e.g. across multiprocessing) working
        return (_rebuild_error, (type(self), self.message, self.status, self.code,
                                 self.worker, self.request_id))


def _rebuild_error(cls, message, status, code, worker, request_id):
    return cls(message, status=status, code=code, worker=worker, request_id=request_id)


class NotFound(Error, FileNotFoundError):
    """No such movie or folder under the server's roots."""
    STATUS = "NOT_FOUND"


class OutOfRange(Error, IndexError):
    """A frame index < 0 or >= the movie's frame count (or a time outside the movie)."""
    STATUS = "OUT_OF_RANGE"


class InvalidArgument(Error, ValueError):
    """Unknown kind, format or encoding; bad crop or size; a malformed request."""
    STATUS = "INVALID_ARGUMENT"


class Forbidden(Error, PermissionError):
    """The path is absolute, contains ``..`` or leads out of its root through a symlink."""
    STATUS = "FORBIDDEN"


class Busy(Error):
    """The broker's queue is full; retry later."""
    STATUS = "BUSY"


class Timeout(Error, TimeoutError):
    """No answer in time: the broker's deadline passed, or the client gave up after its retries."""
    STATUS = "TIMEOUT"


class DecodeError(Error):
    """The file is not a decodable movie, or it is damaged at the requested frame."""
    STATUS = "DECODE_ERROR"


class Unavailable(Error):
    """No worker could serve the request (workers died on it, a remote source is down)."""
    STATUS = "UNAVAILABLE"


class Internal(Error):
    """A bug in the server (or the client): please report it."""
    STATUS = "INTERNAL"


class ProtocolError(Internal):
    """The server's reply did not follow the wire protocol (bad framing, bad header)."""
    STATUS = "INTERNAL"


_CLASS_BY_STATUS = {
    cls.STATUS: cls
    for cls in (NotFound, OutOfRange, InvalidArgument, Forbidden, Busy, Timeout, DecodeError,
                Unavailable, Internal)
}


def error_for_status(code: int, message: str, *, worker: str = "",
                     request_id: int | None = None) -> Error:
    """The exception for a non-OK status code from a reply (unknown codes give ``Error``)."""
    name = STATUS_NAMES.get(code)
    cls = _CLASS_BY_STATUS.get(name, Error) if name else Error
    return cls(message or "", status=name or f"STATUS_{code}", code=code, worker=worker,
               request_id=request_id)
