"""framewire.Client: ask a framewire server for movie metadata and frames.

The client speaks the client side of proto/PROTOCOL.md over one ZeroMQ socket (DEALER by
default, or REQ) connected to a broker's frontend or to ``framewire serve``. It waits for
each reply with a timeout and retries (Lazy Pirate, PROTOCOL.md section 5); replies are
received with ``copy=False`` so frames are numpy views on the received message buffers. A
DEALER asks for batches of frames as streamed replies (PROTOCOL.md 3, several messages put
together by :class:`~framewire.stream.StreamAssembly`). On a local endpoint, FRAMES requests
offer a shared memory segment (:mod:`framewire.shared_memory`) that workers on this host copy
the pixels into instead of sending them; frames are then numpy views on that segment.

Thread-safety: a Client is NOT thread-safe (ZeroMQ sockets must not be shared between
threads). Use one Client per thread; they may share a ``zmq.Context``. The Frames it
returns are plain values that any thread may read.
"""

from __future__ import annotations

import itertools
import os
import time
from typing import Iterable, List, Optional, Sequence, Union

import zmq

from . import protocol
from . import shared_memory as _shm
from .errors import Error, ProtocolError, Timeout
from .frame import Frame
from .protocol import CLIENT_PROTOCOL, ListEntry, MovieInfo, PathLike, RequestKind
from .request_templates import RequestTemplates
from .stream import StreamAssembly

__all__ = ["Client"]

_SOCKET_TYPES = {"dealer": zmq.DEALER, "req": zmq.REQ}

#: Size of the shared memory segment when ``shared_memory`` is on without a size: virtual
#: memory, a page costs RAM only once a frame has been written there.
DEFAULT_SHARED_MEMORY = 1 << 30


def _is_local(endpoint: str) -> bool:
    """True for endpoints that reach a server on this host: ipc, inproc, tcp to loopback."""
    transport, _, address = endpoint.partition("://")
    if transport in ("ipc", "inproc"):
        return True
    if transport != "tcp":
        return False
    address = address.rsplit(";", 1)[-1]  # "tcp://source;destination"
    host = address.rsplit(":", 1)[0].strip("[]").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


class _OneReply:
    """The collector of a reply that is one message (INFO, LIST, STATS)."""

    def __init__(self):
        self.reply = None
        self.payload = None

    def add(self, reply, payload) -> bool:
        protocol.check_status(reply)
        self.reply, self.payload = reply, payload
        return True


class Client:
    """A connection to a framewire server.

    ``endpoint`` is the server's client endpoint (``tcp://host:5555``, ``ipc://...``).
    ``timeout`` is how long, in seconds, to wait for each attempt's reply (for a streamed
    reply: for each of its messages); ``retries`` how many times to send the request again
    when no reply comes (so a call gives up after about ``timeout * (retries + 1)`` seconds
    of silence and raises :class:`~framewire.Timeout`). Reads are idempotent, so retrying is
    always safe.

    ``socket_type`` is ``"dealer"`` (default: keeps its socket across retries and ignores
    late replies to earlier attempts) or ``"req"`` (closes and reopens its socket after a
    timeout, as a REQ socket must).

    ``server_timeout`` is the deadline, in seconds, the broker gets for each request
    (``Request.timeout_ms``): it answers TIMEOUT when no worker has answered by then.
    ``None`` (default) uses 90 % of ``timeout``: the broker then drops a request about when
    the client stops waiting for it (so retries do not pile up stale work in its queue), and
    its TIMEOUT answer, which says why, arrives before the client's own deadline. A server
    TIMEOUT is an answer: it raises :class:`~framewire.Timeout` without a retry. ``0``
    leaves the broker's default (30 s).

    ``hwm`` is the socket's receive and send high-water mark in messages: replies carry
    megabytes of pixels, so it is kept low. ``context`` is the ``zmq.Context`` to use (the
    process-wide ``zmq.Context.instance()`` by default).

    ``shared_memory``: whether FRAMES requests offer workers on this host a shared memory
    segment to copy the pixels into, instead of sending them through the sockets (PROTOCOL.md
    3, :mod:`framewire.shared_memory`). ``None`` (default): on when the endpoint is local
    (``ipc://``, ``inproc://``, ``tcp://`` to 127.x.x.x, ``localhost`` or ``::1``) and the
    platform has ``memfd_create`` (Linux); ``False`` or ``0``: off; ``True``: on; an int: on,
    with a segment of that many bytes (default 1 GiB). The segment is made at the first
    FRAMES request; it is virtual memory that costs RAM only where frames have been written,
    up to the most frames held at once (pages stay resident once used, and its size bounds
    it). A worker that cannot use it (another host) sends the pixels as before. Frames in
    the segment are numpy views on it, like views on a received message: writable, valid
    while referenced, their bytes never reused before the last view is gone.

    A Client is not thread-safe: use one per thread. It is a context manager::

        with framewire.Client("tcp://127.0.0.1:5555") as c:
            f = c.get_frame("a/b/movie.mov", 100)
            rgb = f.array          # (H, W, 3) uint8 view on the received message
    """

    def __init__(self, endpoint: str, timeout: float = 10.0, retries: int = 3,
                 socket_type: str = "dealer", *, server_timeout: Optional[float] = None,
                 hwm: int = 4, context: Optional[zmq.Context] = None,
                 shared_memory: Union[None, bool, int] = None):
        if socket_type not in _SOCKET_TYPES:
            raise ValueError(f"socket_type must be 'dealer' or 'req', not {socket_type!r}")
        if timeout is None or timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, not {timeout!r}")
        if retries < 0:
            raise ValueError(f"retries must be >= 0, not {retries!r}")
        self.endpoint = endpoint
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.socket_type = socket_type
        self.server_timeout = server_timeout
        self.hwm = int(hwm)
        #: Size in bytes of the shared memory segment FRAMES requests offer; 0 = off.
        self.shared_memory = self._shared_memory_size(endpoint, shared_memory)
        self._shared_memory_auto = shared_memory is None
        self._arena: Optional[_shm.SharedArena] = None
        self._context = context if context is not None else zmq.Context.instance()
        self._ids = itertools.count(1)
        self._requests = RequestTemplates()  # FRAMES requests patched, not built again
        self._socket: Optional[zmq.Socket] = None
        self._closed = False
        self._open()

    # ---- public API -----------------------------------------------------------------------

    def info(self, movie: PathLike) -> MovieInfo:
        """Metadata of ``movie`` (a path relative to the server's roots, ``/``-separated)."""
        reply, _, _ = self._call(RequestKind.INFO, movie)
        return protocol.movie_info_from_reply(reply)

    def get_frame(self, movie: PathLike, index: int, format: str = "rgb24", *,
                  encoding: Optional[str] = None, quality: Optional[int] = None,
                  crop: Optional[Sequence[int]] = None, width: Optional[int] = None,
                  height: Optional[int] = None) -> Frame:
        """Frame ``index`` (0-based, presentation order) of ``movie``.

        ``format``: ``"rgb24"`` (default), ``"rgba"``, ``"bgr24"``, ``"gray8"``,
        ``"gray16"`` or ``"native"`` (the decoder's own pixels, e.g. planar
        ``yuv422p10le``; see :attr:`Frame.planes`). ``encoding``: ``"raw"`` (default),
        ``"png"``, ``"jpeg"`` or ``"bmp"`` (then :attr:`Frame.data` is the image file);
        ``quality``: jpeg quality 1..100. ``crop=(x, y, w, h)`` is applied before resizing
        to ``width`` x ``height`` (give one of them to keep the aspect ratio).
        """
        return self.get_frames(movie, [index], format, encoding=encoding, quality=quality,
                               crop=crop, width=width, height=height)[0]

    def get_frames(self, movie: PathLike, indices: Iterable[int], format: str = "rgb24", *,
                   encoding: Optional[str] = None, quality: Optional[int] = None,
                   crop: Optional[Sequence[int]] = None, width: Optional[int] = None,
                   height: Optional[int] = None) -> List[Frame]:
        """Several frames of ``movie`` in one request, returned in the order asked for.

        Indices may come in any order and repeat; the server decodes each needed frame once
        in a forward pass. On a DEALER socket (the default) a batch is asked for as a
        streamed reply (PROTOCOL.md 3): it arrives in several messages while later frames are
        still being decoded, each frame a view on the message it came in, and ``timeout``
        counts from the last message received, so a long batch that keeps arriving is not cut
        off (the broker, too, restarts its deadline, ``server_timeout``, on each message). On a
        REQ socket the whole reply is one message. Either way all the frames are held in
        memory at once, so keep batches to what fits. The request fails as a whole with the
        first failing frame's status. Options as for :meth:`get_frame`.
        """
        wanted = [int(i) for i in indices]
        if not wanted:
            return []
        return self._get(movie, len(wanted), wanted, frames=wanted, format=format,
                         encoding=encoding, quality=quality, crop=crop, width=width,
                         height=height)

    def get_frame_at(self, movie: PathLike, seconds: float, format: str = "rgb24", *,
                     encoding: Optional[str] = None, quality: Optional[int] = None,
                     crop: Optional[Sequence[int]] = None, width: Optional[int] = None,
                     height: Optional[int] = None) -> Frame:
        """The frame of ``movie`` displayed at ``seconds`` (counted from frame 0, as
        :attr:`Frame.time` is): the last frame whose time is <= ``seconds``. Its index is
        :attr:`Frame.index`. A time before 0 or at or after the movie's end raises
        :class:`~framewire.OutOfRange`. Options as for :meth:`get_frame`.
        """
        return self.get_frames_at(movie, [seconds], format, encoding=encoding, quality=quality,
                                  crop=crop, width=width, height=height)[0]

    def get_frames_at(self, movie: PathLike, seconds: Iterable[float], format: str = "rgb24", *,
                      encoding: Optional[str] = None, quality: Optional[int] = None,
                      crop: Optional[Sequence[int]] = None, width: Optional[int] = None,
                      height: Optional[int] = None) -> List[Frame]:
        """The frames displayed at each of ``seconds``, in one request, in the order asked
        for (times that fall on the same frame give that frame again). Options as for
        :meth:`get_frame`. Streamed on a DEALER socket, as :meth:`get_frames` is.
        """
        wanted = [float(t) for t in seconds]
        if not wanted:
            return []
        return self._get(movie, len(wanted), None, times=wanted, format=format,
                         encoding=encoding, quality=quality, crop=crop, width=width,
                         height=height)

    def stats(self) -> dict:
        """The server's statistics as a dict (PROTOCOL.md, STATS).

        ``stats()["broker"]``: routing policy and counters of the broker; ``["workers"]``: one
        entry per worker process (``group``, ``connections``, and ``stats`` with its caches:
        ``memory`` and ``disk`` hits, misses, bytes, entries, evictions, ... or ``error``);
        ``["total"]``: the workers' numbers summed, with a ``hit_rate`` per cache tier.
        """
        reply, _, _ = self._call(RequestKind.STATS, "")
        return protocol.stats_from_reply(reply)

    def list(self, folder: PathLike = "") -> List[ListEntry]:
        """Movies and folders directly under ``folder`` ("" = the top of the roots), sorted
        by name; folder names end in ``/``."""
        reply, _, _ = self._call(RequestKind.LIST, folder)
        return protocol.entries_from_reply(reply)

    def close(self) -> None:
        """Closes the socket (pending messages are dropped). Idempotent. Frames already
        received stay valid (a shared memory segment lives until its last frame goes)."""
        self._closed = True
        self._arena = None
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<framewire.Client {self.endpoint} {self.socket_type} {state}>"

    # ---- shared memory (PROTOCOL.md 3, "Frames in shared memory") --------------------------

    @staticmethod
    def _shared_memory_size(endpoint: str, setting: Union[None, bool, int]) -> int:
        if setting is None:
            on = _is_local(endpoint) and _shm.available()
            return DEFAULT_SHARED_MEMORY if on else 0
        size = (DEFAULT_SHARED_MEMORY if setting else 0) if isinstance(setting, bool) else int(setting)
        if size < 0:
            raise ValueError(f"shared_memory must be None, a bool or a size >= 0, not {setting!r}")
        if size and not _shm.available():
            raise ValueError("shared_memory needs os.memfd_create (Linux)")
        return size

    def _offer(self):
        """(arena, extents) to offer with a FRAMES request, or None."""
        if not self.shared_memory:
            return None
        arena = self._arena
        # A forked child must not offer its parent's segment: both would hand out its extents.
        if arena is None or arena.pid != os.getpid():
            try:
                arena = _shm.SharedArena(self.shared_memory)
            except OSError:
                if not self._shared_memory_auto:
                    raise
                self.shared_memory = 0  # on by default only: carry on without it
                return None
            self._arena = arena
        extents = arena.offer()
        return (arena, extents) if extents else None

    def _retire_shared_memory(self) -> None:
        # PROTOCOL.md 3: memory a worker the client gave up on (or that was replaced) might
        # still write into is never offered again. The segment lives on with its frames.
        self._arena = None

    @staticmethod
    def _take_shared(reply, payload, offer):
        """The payload with each part the reply put in shared memory replaced by its bytes
        there (a numpy array that holds them until the last view of it goes)."""
        placed = protocol.shared_parts_from_reply(reply)
        if not placed:
            return payload
        if offer is None:
            raise ProtocolError("the reply put parts in shared memory its request did not offer")
        if len(placed) != len(payload):
            raise ProtocolError(f"the reply says where {len(placed)} parts are; it has "
                                f"{len(payload)} payload parts")
        arena, extents = offer
        out = list(payload)
        for i, (offset, size) in enumerate(placed):
            if size == 0:
                continue
            if len(out[i]) != 0:
                raise ProtocolError(f"payload part {i} is in shared memory and in the message")
            out[i] = arena.claim(offset, size, extents)
        return out

    # ---- Lazy Pirate ----------------------------------------------------------------------

    def _open(self) -> None:
        s = self._context.socket(_SOCKET_TYPES[self.socket_type])
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.RCVHWM, self.hwm)
        s.setsockopt(zmq.SNDHWM, self.hwm)
        s.connect(self.endpoint)
        self._socket = s

    def _reopen(self) -> None:
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None
        self._open()

    def _timeout_ms(self) -> int:
        if self.server_timeout is None:
            return max(1, int(self.timeout * 900))
        return max(0, int(round(self.server_timeout * 1000)))

    def _call(self, kind: int, movie: PathLike, **fields):
        """Sends one request whose reply is one message; returns (Reply, payload parts,
        round-trip s)."""
        one, rtt = self._exchange(kind, movie, _OneReply, **fields)
        return one.reply, one.payload, rtt

    def _get(self, movie: PathLike, count: int, requested: Optional[List[int]], **fields):
        """A FRAMES request for ``count`` frames: streamed on a DEALER when it asks for more
        than one frame; the frames in request order."""
        stream = self.socket_type == "dealer" and count > 1
        assembly, rtt = self._exchange(
            RequestKind.FRAMES, movie,
            lambda: StreamAssembly(count, requested=requested, streamed=stream),
            stream=stream, **fields)
        return assembly.frames(round_trip=rtt)

    def _exchange(self, kind: int, movie: PathLike, collector, *, stream: bool = False,
                  **fields):
        """Sends one request with retries (Lazy Pirate) and feeds its reply's messages to a
        fresh ``collector()`` per attempt (``add(reply, payload)`` returns True on the last
        message, raises on an error status). Returns (collector, round-trip s).

        Each attempt waits ``timeout`` for a message; every message of the reply starts that
        wait again, so a streamed reply that keeps arriving is never cut off. An unanswered
        attempt is resent under a new id. A DEALER takes a one-message reply to any attempt
        of this call (a late answer is as good as the retry's), but a streamed reply only
        from the current attempt: messages of two dispatches are never mixed.

        FRAMES requests offer free extents of the shared memory segment (if on); the parts a
        reply put there become numpy arrays on it before the collector sees them. A call that
        retried, gave up, failed without a worker's answer or saw its stream restart retires
        the segment: the next request makes a new one.
        """
        if self._closed:
            raise ValueError("the framewire client is closed")
        dealer = self.socket_type == "dealer"
        sent_ids = set()
        # Shared memory offered per attempt, by request id: a reply's parts are taken only
        # inside the extents offered with the attempt it answers.
        offers = {}
        start = time.monotonic()
        attempts = self.retries + 1
        for attempt in range(attempts):
            request_id = next(self._ids)
            offer = self._offer() if kind == RequestKind.FRAMES else None
            shared = None
            if offer is not None:
                offers[request_id] = offer
                arena, extents = offer
                shared = (arena.path, arena.token, arena.size, extents)
            body = self._requests.build(request_id, kind, movie, timeout_ms=self._timeout_ms(),
                                        stream=stream, shared_memory=shared, **fields)
            frames = [b"", CLIENT_PROTOCOL, body] if dealer else [CLIENT_PROTOCOL, body]
            deadline = time.monotonic() + self.timeout
            collected = collector()
            done = False
            received = False
            restarted = False
            next_position = 0
            try:
                if self._send(frames, deadline):
                    sent_ids.add(request_id)
                    accepted = {request_id} if stream else sent_ids
                    while True:
                        got = self._receive(accepted, deadline, dealer)
                        if got is None:
                            break
                        received = True
                        reply, payload = got
                        payload = self._take_shared(reply, payload, offers.get(reply.Id()))
                        if stream:
                            # A position before the end of the previous message: a second
                            # worker restarted the stream, and the first may not be dead.
                            position, count = protocol._guard(
                                lambda: (reply.Position(), reply.FramesLength()))
                            restarted |= position < next_position
                            next_position = position + count
                        if collected.add(reply, payload):
                            done = True
                            break
                        deadline = time.monotonic() + self.timeout
            except BaseException as exc:
                # Interrupted (KeyboardInterrupt, a ProtocolError on REQ...) before its reply
                # came: a REQ socket is now stuck waiting for a reply that will not be read;
                # give it a fresh start. (After its one reply, an error status included, it is
                # ready to send again.)
                if not dealer and not received and not self._closed:
                    self._reopen()
                # Only a worker's error status surely ends the dispatch (the broker's TIMEOUT,
                # a bad reply or an interrupt may leave a worker writing into the segment).
                worker_answer = (isinstance(exc, Error) and not isinstance(exc, ProtocolError)
                                 and bool(exc.worker))
                if offers and not (attempt == 0 and not restarted and worker_answer):
                    self._retire_shared_memory()
                raise
            if done:
                if offers and (attempt > 0 or restarted):
                    self._retire_shared_memory()  # an earlier or replaced worker may still write
                return collected, time.monotonic() - start
            # Unanswered: its worker may still write into the extents offered with it, so the
            # retry offers a new segment.
            self._retire_shared_memory()
            if not dealer:
                self._reopen()
        raise Timeout(f"no reply from {self.endpoint} after {attempts} attempt(s) of "
                      f"{self.timeout:g} s")

    def _send(self, frames, deadline: float) -> bool:
        # Never block forever: a DEALER whose peer is gone queues up to its HWM, then would.
        while True:
            try:
                self._socket.send_multipart(frames, flags=zmq.NOBLOCK)
                return True
            except zmq.Again:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._socket.poll(max(1, int(remaining * 1000)), zmq.POLLOUT)

    def _receive(self, sent_ids, deadline: float, dealer: bool):
        """Waits until ``deadline`` for a reply to one of ``sent_ids``; None on timeout."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            if not self._socket.poll(max(1, int(remaining * 1000 + 0.5)), zmq.POLLIN):
                continue
            parts = self._socket.recv_multipart(copy=False)
            try:
                header, payload = protocol.split_reply(parts, with_delimiter=dealer)
                reply = protocol.parse_reply_header(header.bytes)
                reply_id = reply.Id()
            except ProtocolError:
                if dealer:
                    continue  # garbage on a DEALER: drop it and keep waiting
                raise
            if dealer and reply_id not in sent_ids:
                continue  # a late reply to an earlier call: stale
            return reply, payload
