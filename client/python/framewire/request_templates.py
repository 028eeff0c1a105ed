"""FRAMES requests made by patching a serialized one: the bytes ``build_request`` makes, faster.

A client asks for frames of one movie with the same output parameters over and over; between
two such requests only the request id, the frame indices, the timeout and the free extents of
the shared memory offer change, and none of them changes the layout of the FlatBuffer (they
are fixed-size scalars and vector elements). Building a ``Request`` with the Python
FlatBuffers builder costs about 0.2 ms (every scalar goes through it one call at a time): a
good part of a RAM cache hit. So the first request of a shape is built by
:func:`~framewire.protocol.build_request` with placeholder values, the positions of those
values are found through the generated accessors, and later requests of that shape copy the
bytes and write their own values there. The result is byte for byte what ``build_request``
makes (the tests hold it to that); anything unusual (times, an id of 0, indices that are not
64-bit integers) is simply built the ordinary way.

Not thread-safe: one per client.
"""

from __future__ import annotations

import collections
import operator
import struct
from typing import Any, Iterable, Optional, Sequence, Tuple

import numpy as np

from . import protocol
from .proto.Request import Request
from .proto.RequestKind import RequestKind
from .proto.SharedMemory import SharedMemory

__all__ = ["RequestTemplates"]

_U64 = (1 << 64) - 1


class _Template:
    """A serialized request and where its variable values are."""

    __slots__ = ("data", "id_at", "frames_at", "timeout_at", "extents_at")

    def __init__(self, data: bytes):
        self.data = data
        table = Request.GetRootAs(data, 0)._tab
        # Field slots (vtable offsets) as in the generated Request/SharedMemory accessors.
        self.id_at = table.Pos + table.Offset(4)
        self.frames_at = table.Vector(table.Offset(10))
        timeout = table.Offset(24)
        self.timeout_at = table.Pos + timeout if timeout else None
        self.extents_at = None
        shared = table.Offset(30)
        if shared:
            offer = SharedMemory()
            offer.Init(data, table.Indirect(table.Pos + shared))
            self.extents_at = offer._tab.Vector(offer._tab.Offset(10))


class RequestTemplates:
    """Serialized FRAMES requests of the last ``capacity`` shapes (movie, output parameters,
    number of frames and of extents, ...), patched for each new request."""

    def __init__(self, capacity: int = 16):
        self.capacity = capacity
        self._templates: "collections.OrderedDict[Any, _Template]" = collections.OrderedDict()

    def build(self, request_id: int, kind: int, movie: protocol.PathLike = "", *,
              frames: Optional[Iterable[int]] = None, timeout_ms: int = 0,
              shared_memory: Optional[Tuple[str, str, int, Sequence[Tuple[int, int]]]] = None,
              **fields) -> bytes:
        """What ``protocol.build_request`` returns for the same arguments."""
        if frames is not None and not isinstance(frames, (list, tuple, np.ndarray)):
            frames = list(frames)  # read once, whichever way the request is made

        def ordinary():
            return protocol.build_request(request_id, kind, movie, frames=frames, timeout_ms=timeout_ms,
                                          shared_memory=shared_memory, **fields)
        if kind != RequestKind.FRAMES or frames is None or fields.get("times") is not None:
            return ordinary()
        try:
            if any(isinstance(f, (bool, np.bool_)) for f in frames):
                return ordinary()  # not integers to build_request
            indices = [operator.index(f) for f in frames]
            key = (protocol._movie_path(movie), len(indices), bool(timeout_ms),
                   None if shared_memory is None else (*shared_memory[:3], len(shared_memory[3])),
                   tuple(sorted((name, tuple(value) if isinstance(value, (list, tuple)) else value)
                                for name, value in fields.items())))
            hash(key)
        except TypeError:
            return ordinary()  # build_request says what is wrong with them
        if request_id & _U64 == 0:
            return ordinary()  # an id of 0 is left out of the table: another layout
        template = self._templates.get(key)
        if template is None:
            placeholder_offer = None
            if shared_memory is not None:
                path, token, size, extents = shared_memory
                placeholder_offer = (path, token, size, [(0, 0)] * len(extents))
            template = _Template(protocol.build_request(
                1, kind, movie, frames=[0] * len(indices), timeout_ms=1 if timeout_ms else 0,
                shared_memory=placeholder_offer, **fields))
            self._templates[key] = template
            while len(self._templates) > self.capacity:
                self._templates.popitem(last=False)
        else:
            self._templates.move_to_end(key)
        data = bytearray(template.data)
        try:
            struct.pack_into("<Q", data, template.id_at, request_id & _U64)
            struct.pack_into(f"<{len(indices)}q", data, template.frames_at, *indices)
            if template.timeout_at is not None:
                struct.pack_into("<I", data, template.timeout_at, min(int(timeout_ms), 0xFFFFFFFF))
            if template.extents_at is not None:
                flat = [int(v) for extent in shared_memory[3] for v in extent]
                struct.pack_into(f"<{len(flat)}Q", data, template.extents_at, *flat)
        except struct.error:
            return ordinary()  # out of range: build_request raises or wraps exactly as before
        return bytes(data)
