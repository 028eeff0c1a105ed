"""Frames in shared memory (PROTOCOL.md 3, "Frames in shared memory"): the client's segment.

A worker on the client's host can copy a reply's pixels straight into the client's memory
instead of sending them through sockets. The client owns a :class:`SharedArena`: a sealed
memfd mapped into this process, offered to each FRAMES request as a list of free extents
(:meth:`SharedArena.offer`). The reply says where each payload part went; the client takes
each one with :meth:`SharedArena.claim`, which returns a 1-D uint8 numpy array over those
bytes. The array (and every view of it, e.g. ``Frame.array``) holds a *lease* on its byte
range: as long as any of them lives, the range is not offered again; once the last one is
gone, it is free for later requests. The lease also keeps the mapping alive, so an arena the
client has stopped using (retired) lives on until its last frame goes.

Memory use: the segment is virtual memory; a page costs RAM only once a frame has been
written there, and stays resident afterwards (free pages are not given back), so the
segment's resident size is the high-water mark of the frames held at once, bounded by its
size. Free extents are offered lowest offset first, so the same warm pages are reused.
"""

from __future__ import annotations

import collections
import ctypes
import fcntl
import mmap
import os
import secrets
import threading
import weakref
from typing import List, Sequence, Tuple

import numpy as np

from .errors import ProtocolError

__all__ = ["SharedArena", "available", "HEADER_SIZE", "MAGIC"]

#: The segment's first bytes, followed by the token (32 hex digits).
MAGIC = b"framewire-shm-1\0"
#: Bytes at the segment's start that hold the header; frames go after them.
HEADER_SIZE = 4096
_PAGE = 4096
#: Extents smaller than this are not offered: no frame worth sharing fits there.
MIN_EXTENT = 64 * 1024
#: At most this many extents per request (PROTOCOL.md 3).
MAX_EXTENTS = 64

Extent = Tuple[int, int]  # (offset, length)


def available() -> bool:
    """True when this platform can make a sealed memfd (Linux, Python 3.8+)."""
    return hasattr(os, "memfd_create") and hasattr(fcntl, "F_ADD_SEALS")


class _Lease:
    """One claimed byte range of an arena. numpy arrays made from it (``np.asarray``) have it
    as their base, so it lives as long as the last view of the frame, and releases the range
    when it goes."""

    __slots__ = ("__array_interface__", "arena", "_key", "__weakref__")

    def __init__(self, arena: "SharedArena", offset: int, size: int):
        self.arena = arena  # keeps the mapping alive while the bytes are in use
        self._key = (offset, offset + size)
        self.__array_interface__ = {"shape": (size,), "typestr": "|u1",
                                    "data": (arena.address + offset, False), "version": 3}

    def __del__(self):
        # Runs wherever the garbage collector drops the last view: any thread, maybe in the
        # middle of the arena's own code. So no lock here: a deque append is atomic, and the
        # arena takes the range back the next time it looks (claim, offer).
        self.arena._released.append(self._key)


class SharedArena:
    """A client's shared memory segment and the byte ranges its live frames occupy.

    ``size`` is rounded up to whole pages; the first :data:`HEADER_SIZE` bytes hold the
    header (:data:`MAGIC` + ``token``). ``path`` is how a worker on this host opens it.
    Thread-safe: leases are released from any thread.
    """

    def __init__(self, size: int):
        size = -(-int(size) // _PAGE) * _PAGE
        if size <= HEADER_SIZE:
            raise ValueError(f"a shared memory segment needs more than {HEADER_SIZE} bytes, "
                             f"not {size}")
        self.size = size
        self.token = secrets.token_hex(16)
        self.pid = os.getpid()
        fd = os.memfd_create(f"framewire-{self.token}", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        try:
            os.ftruncate(fd, size)
            # A worker maps the whole size: a segment that could shrink would crash it.
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS,
                        fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL)
            os.pwrite(fd, MAGIC + self.token.encode("ascii"), 0)
            self._mmap = mmap.mmap(fd, size)
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd
        self.path = f"/proc/{self.pid}/fd/{fd}"
        anchor = ctypes.c_char.from_buffer(self._mmap)
        self.address = ctypes.addressof(anchor)
        del anchor  # it holds an export of the mmap; the address stays valid while the mmap lives
        # The fd goes with the arena; the mmap is unmapped by its own destructor, after the
        # last lease (which references the arena) is gone.
        self._close_fd = weakref.finalize(self, os.close, fd)
        self._lock = threading.Lock()
        self._claims = collections.Counter()  # (start, end) -> live leases on exactly that range
        self._released = collections.deque()  # ranges whose lease went, not yet taken back

    def _take_back(self) -> None:
        # Caller holds the lock.
        while self._released:
            key = self._released.popleft()
            self._claims[key] -= 1
            if self._claims[key] <= 0:
                del self._claims[key]

    def _used(self) -> List[Extent]:
        """The union of the live claims as sorted, disjoint (start, end) ranges."""
        merged: List[List[int]] = []
        for start, end in sorted(self._claims):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        return [(s, e) for s, e in merged]

    def offer(self, max_extents: int = MAX_EXTENTS, min_length: int = MIN_EXTENT) -> List[Extent]:
        """The free extents ``(offset, length)``, lowest offset first (warm pages are used
        again), at most ``max_extents``, none shorter than ``min_length``. The caller must not
        offer them to another request before this one is over."""
        with self._lock:
            self._take_back()
            used = self._used()
        free = []
        pos = HEADER_SIZE
        for start, end in used + [(self.size, self.size)]:
            if start - pos >= min_length:
                free.append((pos, start - pos))
                if len(free) == max_extents:
                    break
            pos = max(pos, end)
        return free

    def claim(self, offset: int, size: int, offered: Sequence[Extent]) -> np.ndarray:
        """The ``size`` bytes at ``offset`` that a reply placed there, as a writable 1-D uint8
        array holding a lease on them. They must lie inside one of ``offered`` (the extents
        offered for that request): a reply that points elsewhere would hand out memory the
        server had no right to write, and raises ``ProtocolError``. Several claims may cover
        the same bytes (a restarted stream places the same frames at the same offsets)."""
        offset, size = int(offset), int(size)
        end = offset + size
        if size <= 0 or not any(o <= offset and end <= o + n for o, n in offered):
            raise ProtocolError(f"the reply placed a part at bytes {offset}..{end} of shared "
                                f"memory, outside the extents offered for the request")
        with self._lock:
            self._take_back()
            self._claims[(offset, end)] += 1
        return np.asarray(_Lease(self, offset, size))

    @property
    def in_use(self) -> int:
        """Bytes covered by live claims."""
        with self._lock:
            self._take_back()
            return sum(e - s for s, e in self._used())

    def contains(self, address: int) -> bool:
        """True when ``address`` (e.g. ``arr.__array_interface__['data'][0]``) lies in the
        segment."""
        return self.address <= address < self.address + self.size

    def __repr__(self) -> str:
        return f"<framewire.SharedArena {self.path} {self.size} bytes>"
