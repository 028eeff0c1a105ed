"""Assembling a FRAMES reply that may come in several messages (PROTOCOL.md 3, "Streamed
FRAMES replies"), without sockets.

A client that asked with ``Request.stream`` receives one or more messages with the request's
id. Each carries a run of the request's frames starting at request position
``Reply.position``; ``Reply.more`` is true on every message but the last. A
:class:`StreamAssembly` takes the messages one at a time, places their frames by position
(a repeated position overwrites: a request whose worker died is streamed again from position
0 by another worker), and when the last message is in, returns the frames in request order
or says which positions never came. A reply that is not streamed is the same thing with one
message at position 0.

Each :class:`~framewire.frame.Frame` keeps its own message's payload parts (its pixels are
views on them, without a copy), so the parts of a message are freed when the last frame
that came in it goes.

One assembly serves one attempt of one request; it is not thread-safe (one thread feeds it).
"""

from __future__ import annotations

import dataclasses
from typing import Any, List, Optional, Sequence

from .errors import ProtocolError
from .frame import Frame, Timings
from .protocol import Reply, _guard, check_status, frames_from_reply, request_timings

__all__ = ["StreamAssembly"]


def _ranges(positions: Sequence[int]) -> str:
    """``[0, 1, 2, 5, 7, 8]`` -> ``"0-2, 5, 7-8"``."""
    out = []
    start = prev = None
    for p in positions:
        if start is None:
            start = prev = p
        elif p == prev + 1:
            prev = p
        else:
            out.append(f"{start}" if start == prev else f"{start}-{prev}")
            start = prev = p
    if start is not None:
        out.append(f"{start}" if start == prev else f"{start}-{prev}")
    return ", ".join(out)


class StreamAssembly:
    """Collects the messages of one FRAMES reply into ``count`` slots in request order.

    ``requested``: the requested frame indices (``Request.frames``), checked against each
    frame's index; ``None`` for requests by time, where the server picks the frame.
    ``streamed``: whether the request asked for a streamed reply; a reply that says ``more``
    to a request that did not ask for it is a protocol error (a REQ socket could not receive
    the rest).

    Feed every message with :meth:`add` until it returns True (the last message), then take
    :meth:`frames`. An error status in any message raises that error from :meth:`add`
    (frames received before it are dropped with the assembly).
    """

    def __init__(self, count: int, requested: Optional[Sequence[int]] = None,
                 streamed: bool = True):
        if requested is not None and len(requested) != count:
            raise ValueError(f"{len(requested)} requested indices for {count} slots")
        self.count = int(count)
        self.requested = list(requested) if requested is not None else None
        self.streamed = streamed
        self.messages = 0
        self._slots: List[Optional[Frame]] = [None] * self.count
        # Per slot: True when the frame's header carried no timings of its own, so it takes
        # the request's totals, which only the last message has.
        self._request_timed: List[bool] = [False] * self.count
        self._last: Optional[Reply] = None

    @property
    def done(self) -> bool:
        """True once the last message (``more == false``) has been added."""
        return self._last is not None

    def add(self, reply: Reply, payload: Sequence[Any]) -> bool:
        """Places one message's frames (``reply`` its parsed header, ``payload`` its parts
        after the header). Returns True when it was the last message. Raises the message's
        error status, or ``ProtocolError`` for a message that does not fit the request."""
        if self.done:
            raise ProtocolError("a message of a FRAMES reply arrived after its last one")
        check_status(reply)
        self.messages += 1
        more, position = _guard(lambda: (bool(reply.More()), int(reply.Position())))
        if more and not self.streamed:
            raise ProtocolError("the server streamed the reply to a request that did not ask for it")
        frames = frames_from_reply(reply, payload)
        if position + len(frames) > self.count:
            raise ProtocolError(
                f"a reply message carries request positions {position}..{position + len(frames) - 1}; "
                f"the request has {self.count} frames")
        own_timings = _guard(lambda: [reply.Frames(i).Timings() is not None
                                      for i in range(len(frames))])
        for k, frame in enumerate(frames):
            slot = position + k
            if self.requested is not None and frame.index != self.requested[slot]:
                raise ProtocolError(f"asked for frame {self.requested[slot]} at position {slot}, "
                                    f"the reply sent frame {frame.index}")
            self._slots[slot] = frame  # a repeated position (a re-dispatched request) overwrites
            self._request_timed[slot] = not own_timings[k]
        if not more:
            self._last = reply
        return not more

    def missing(self) -> List[int]:
        """Request positions no message has filled yet."""
        return [i for i, f in enumerate(self._slots) if f is None]

    def frames(self, round_trip: float = 0.0) -> List[Frame]:
        """The frames in request order, once the last message is in. ``round_trip`` (seconds,
        measured by the caller) goes into every frame's timings. Raises ``ProtocolError`` when
        the reply is not complete or left positions empty: a short or misplaced list is never
        returned."""
        if not self.done:
            raise ProtocolError(f"the FRAMES reply is incomplete: its last message has not "
                                f"arrived ({self.messages} received)")
        missing = self.missing()
        if missing:
            raise ProtocolError(
                f"the FRAMES reply ended without request position(s) {_ranges(missing)} "
                f"({len(missing)} of {self.count} frames missing, {self.messages} message(s))")
        totals = request_timings(self._last)
        out = []
        for frame, request_timed in zip(self._slots, self._request_timed):
            timings: Timings = totals if request_timed else frame.timings
            frame.timings = dataclasses.replace(timings, round_trip=round_trip)
            out.append(frame)
        return out
