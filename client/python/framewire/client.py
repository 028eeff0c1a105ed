"""framewire.Client: ask a framewire server for movie metadata and frames.

The client speaks the client side of proto/PROTOCOL.md over one ZeroMQ socket (DEALER by
default, or REQ) connected to a broker's frontend or to ``framewire serve``. It waits for
each reply with a timeout and retries (Lazy Pirate, PROTOCOL.md section 5); replies are
received with ``copy=False`` so frames are numpy views on the received message buffers. A
DEALER asks for batches of frames as streamed replies (PROTOCOL.md 3, several messages put
together by :class:`~framewire.stream.StreamAssembly`).

Thread-safety: a Client is NOT thread-safe (ZeroMQ sockets must not be shared between
threads). Use one Client per thread; they may share a ``zmq.Context``. The Frames it
returns are plain values that any thread may read.
"""

from __future__ import annotations

import itertools
import time
from typing import Iterable, List, Optional, Sequence

import zmq

from . import protocol
from .errors import ProtocolError, Timeout
from .frame import Frame
from .protocol import CLIENT_PROTOCOL, ListEntry, MovieInfo, PathLike, RequestKind
from .stream import StreamAssembly

__all__ = ["Client"]

_SOCKET_TYPES = {"dealer": zmq.DEALER, "req": zmq.REQ}


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

    A Client is not thread-safe: use one per thread. It is a context manager::

        with framewire.Client("tcp://127.0.0.1:5555") as c:
            f = c.get_frame("a/b/movie.mov", 100)
            rgb = f.array          # (H, W, 3) uint8 view on the received message
    """

    def __init__(self, endpoint: str, timeout: float = 10.0, retries: int = 3,
                 socket_type: str = "dealer", *, server_timeout: Optional[float] = None,
                 hwm: int = 4, context: Optional[zmq.Context] = None):
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
        self._context = context if context is not None else zmq.Context.instance()
        self._ids = itertools.count(1)
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
        """Closes the socket (pending messages are dropped). Idempotent."""
        self._closed = True
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
        """
        if self._closed:
            raise ValueError("the framewire client is closed")
        dealer = self.socket_type == "dealer"
        sent_ids = set()
        start = time.monotonic()
        attempts = self.retries + 1
        for attempt in range(attempts):
            request_id = next(self._ids)
            body = protocol.build_request(request_id, kind, movie, timeout_ms=self._timeout_ms(),
                                          stream=stream, **fields)
            frames = [b"", CLIENT_PROTOCOL, body] if dealer else [CLIENT_PROTOCOL, body]
            deadline = time.monotonic() + self.timeout
            collected = collector()
            done = False
            received = False
            try:
                if self._send(frames, deadline):
                    sent_ids.add(request_id)
                    accepted = {request_id} if stream else sent_ids
                    while True:
                        got = self._receive(accepted, deadline, dealer)
                        if got is None:
                            break
                        received = True
                        if collected.add(*got):
                            done = True
                            break
                        deadline = time.monotonic() + self.timeout
            except BaseException:
                # Interrupted (KeyboardInterrupt, a ProtocolError on REQ...) before its reply
                # came: a REQ socket is now stuck waiting for a reply that will not be read;
                # give it a fresh start. (After its one reply, an error status included, it is
                # ready to send again.)
                if not dealer and not received and not self._closed:
                    self._reopen()
                raise
            if done:
                return collected, time.monotonic() - start
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
