"""framewire: single video frames by index, out of large movies, over ZeroMQ.

The Python client of a framewire server (``framewire serve``, or a ``framewire-broker``
with ``framewire-worker`` processes)::

    import framewire

    with framewire.Client("tcp://127.0.0.1:5555", timeout=10.0) as c:
        info = c.info("RS03ASHS/PN03B/movie.mov")       # .num_frames .width .height .fps ...
        f = c.get_frame("RS03ASHS/PN03B/movie.mov", 5000, format="rgb24")
        f.array            # (H, W, 3) uint8, a view on the received ZeroMQ message (no copy)
        frames = c.get_frames("RS03ASHS/PN03B/movie.mov", [5, 1, 9], format="gray8")

Errors raise subclasses of :class:`framewire.Error` named after the protocol's statuses.
The wire protocol is proto/PROTOCOL.md; ``framewire.proto`` is FlatBuffers code generated
from proto/framewire.fbs by ``flatc --python`` (see regenerate-proto.sh next to
pyproject.toml: running flatc straight into client/python empties this file).
"""

from .client import Client
from .errors import (Busy, DecodeError, Error, Forbidden, Internal, InvalidArgument, NotFound,
                     OutOfRange, ProtocolError, Timeout, Unavailable)
from .frame import Frame, Plane, Timings
from .protocol import ENCODINGS, FORMATS, ListEntry, MovieInfo

__version__ = "0.1.0"

__all__ = [
    "Client",
    "Frame",
    "Plane",
    "Timings",
    "MovieInfo",
    "ListEntry",
    "FORMATS",
    "ENCODINGS",
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
    "__version__",
]
