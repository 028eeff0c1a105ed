"""A decoded (or encoded) frame as the server sent it, viewed without copying.

A :class:`Frame` keeps the ZeroMQ message parts of the reply it came in and describes where
its pixels are inside them (one :class:`Plane` per plane, as the reply header says). Its
numpy arrays are *views* on those received buffers: ``np.ndarray(buffer=...)`` over the
``zmq.Frame``, with the header's offsets and strides, so no pixel byte is copied between
the socket and your code. (Parts a worker on this host put in the client's shared memory
are numpy arrays on that memory instead, and the same holds for them.) The arrays keep the
message parts alive for as long as they are referenced. They are writable (the buffers
belong to this process alone); copy them (``arr.copy()``) if you want to keep a frame apart
from the reply's memory.

Frames are plain values: safe to hand to other threads once received.
"""

from __future__ import annotations

import dataclasses
from typing import Any, List, Optional, Sequence

import numpy as np

__all__ = ["Frame", "Plane", "Timings"]


@dataclasses.dataclass(frozen=True)
class Timings:
    """Time spent per stage of a request, in seconds.

    ``queue`` is the wait in the broker's queue; ``read``, ``decode``, ``convert``,
    ``encode`` and ``total`` are measured inside the worker (``total`` excludes the queue).
    ``round_trip`` is measured by the client: from sending the request to receiving its
    reply, for the whole request (all frames of a ``get_frames`` call), retries included.
    """

    queue: float = 0.0
    read: float = 0.0
    decode: float = 0.0
    convert: float = 0.0
    encode: float = 0.0
    total: float = 0.0
    round_trip: float = 0.0

    def as_dict(self) -> dict:
        """The timings as ``{stage: seconds}``."""
        return dataclasses.asdict(self)

    # Read-only mapping access as well: t["decode"], t.get("decode"), dict(t).
    def keys(self):
        return [f.name for f in dataclasses.fields(self)]

    def items(self):
        return self.as_dict().items()

    def __getitem__(self, stage: str) -> float:
        if stage not in self.keys():
            raise KeyError(stage)
        return getattr(self, stage)

    def get(self, stage: str, default=None):
        return getattr(self, stage) if stage in self.keys() else default

    def __contains__(self, stage) -> bool:
        return stage in self.keys()

    def __str__(self) -> str:
        return " ".join(f"{k}={v * 1e3:.2f}ms" for k, v in self.as_dict().items())


@dataclasses.dataclass(frozen=True)
class Plane:
    """Where one plane's rows are in the reply (proto ``Plane``).

    Row ``r`` starts at byte ``offset + r * stride`` of payload part ``part`` (0 = first
    part after the header) and holds ``row_bytes`` bytes of pixels; there are ``rows`` rows.
    """

    part: int
    offset: int
    stride: int
    row_bytes: int
    rows: int

    @property
    def end(self) -> int:
        """One past the last byte of pixel data (the last row has no padding)."""
        if self.rows == 0:
            return self.offset
        return self.offset + (self.rows - 1) * self.stride + self.row_bytes


_ENCODED = ("png", "jpeg", "bmp")


class Frame:
    """One frame of a reply.

    Attributes (from the reply header): ``index`` (0-based, presentation order), ``pts``
    (in the stream's time base), ``time`` (seconds), ``keyframe``, ``width``, ``height``,
    ``format`` (as requested: ``"rgb24"``, ``"native"``, ...), ``pixel_format`` (FFmpeg's
    name of the pixels sent, e.g. ``"yuv422p10le"``), ``encoding`` (``"raw"``, ``"png"``,
    ``"jpeg"``, ``"bmp"``), ``sample_bytes`` (1, or 2 for 9..16-bit formats, little endian),
    ``size`` (payload bytes), ``cached`` (where the worker found it: ``None`` when it was
    decoded for this request, ``"memory"`` or ``"disk"`` for its RAM or disk cache),
    ``timings`` (:class:`Timings`), ``worker`` (name of the worker that answered),
    ``layout`` (a list of :class:`Plane`) and ``parts`` (the payload parts the pixels live
    in: the received ``zmq.Frame`` objects, or, for parts a worker put in the shared
    memory, 1-D uint8 numpy arrays on it; see :mod:`framewire.shared_memory`).

    Pixels: :attr:`array`, :attr:`planes`, :attr:`data`, :meth:`tobytes`;
    ``np.asarray(frame)`` gives :attr:`array`.
    """

    def __init__(self, *, index: int, pts: int, time: float, keyframe: bool, width: int,
                 height: int, format: str, pixel_format: str, encoding: str,
                 sample_bytes: int, layout: Sequence[Plane], size: int, cached: Optional[str],
                 timings: Timings, worker: str, parts: Sequence[Any]):
        self.index = index
        self.pts = pts
        self.time = time
        self.keyframe = keyframe
        self.width = width
        self.height = height
        self.format = format
        self.pixel_format = pixel_format
        self.encoding = encoding or "raw"
        self.sample_bytes = sample_bytes or 1
        self.layout: List[Plane] = list(layout)
        self.size = size
        self.cached = cached
        self.timings = timings
        self.worker = worker
        self.parts = parts
        self._planes: Optional[List[np.ndarray]] = None
        self._check_layout()

    # ---- layout ---------------------------------------------------------------------------

    @property
    def is_encoded(self) -> bool:
        """True for png, jpeg and bmp frames (the payload is an image file)."""
        return self.encoding in _ENCODED

    def _buffer(self, part: int) -> memoryview:
        p = self.parts[part]
        buf = getattr(p, "buffer", None)  # zmq.Frame: its own memory, no copy
        return buf if buf is not None else memoryview(p)

    def _check_layout(self) -> None:
        # Imported here: frame.py stays usable on its own (errors.py has no dependencies).
        from .errors import ProtocolError

        if self.sample_bytes not in (1, 2):
            raise ProtocolError(f"frame {self.index}: unsupported sample_bytes {self.sample_bytes}")
        if not self.layout:
            raise ProtocolError(f"frame {self.index}: the header describes no plane")
        for i, pl in enumerate(self.layout):
            if pl.part >= len(self.parts):
                raise ProtocolError(
                    f"frame {self.index} plane {i}: payload part {pl.part} missing "
                    f"(the reply has {len(self.parts)})")
            if pl.rows > 1 and pl.stride < pl.row_bytes:
                raise ProtocolError(f"frame {self.index} plane {i}: stride {pl.stride} < "
                                    f"row_bytes {pl.row_bytes}")
            if not self.is_encoded and pl.row_bytes % self.sample_bytes:
                raise ProtocolError(f"frame {self.index} plane {i}: row_bytes {pl.row_bytes} is "
                                    f"not a multiple of sample_bytes {self.sample_bytes}")
            if pl.end > len(self._buffer(pl.part)):
                raise ProtocolError(
                    f"frame {self.index} plane {i}: bytes {pl.offset}..{pl.end} lie outside "
                    f"payload part {pl.part} ({len(self._buffer(pl.part))} bytes)")

    def _dtype(self) -> np.dtype:
        return np.dtype(np.uint8) if self.sample_bytes == 1 else np.dtype("<u2")

    def _plane_view(self, pl: Plane, dtype: np.dtype, shape, strides) -> np.ndarray:
        return np.ndarray(shape=shape, dtype=dtype, buffer=self._buffer(pl.part),
                          offset=pl.offset, strides=strides)

    # ---- pixels ---------------------------------------------------------------------------

    @property
    def planes(self) -> List[np.ndarray]:
        """One 2-D numpy view per plane, ``(rows, row_bytes // sample_bytes)``.

        dtype ``uint8``, or ``'<u2'`` when ``sample_bytes`` is 2. Planes come in FFmpeg's
        order (Y, U, V[, A] for ``yuv*``; G, B, R[, A] for ``gbr*``); row padding is skipped
        through the strides. For packed formats (``rgb24`` ...) the single plane interleaves
        the components in each row. For encoded frames the one plane is ``(1, size)`` bytes.
        """
        if self._planes is None:
            views = []
            for pl in self.layout:
                sb = 1 if self.is_encoded else self.sample_bytes
                dtype = np.dtype(np.uint8) if sb == 1 else self._dtype()
                views.append(self._plane_view(pl, dtype, (pl.rows, pl.row_bytes // sb),
                                              (pl.stride, sb)))
            self._planes = views
        return list(self._planes)

    @property
    def array(self) -> np.ndarray:
        """The frame as one numpy view on the received buffer (no copy).

        ``(height, width, 3)`` uint8 for rgb24 and bgr24, ``(height, width, 4)`` for rgba,
        ``(height, width)`` uint8 for gray8 and uint16 for gray16; in general
        ``(height, width, components)`` for a packed format, ``(height, width)`` when there
        is one component. Encoded frames (png, jpeg, bmp) give the file's bytes as a 1-D
        uint8 array (ready for ``cv2.imdecode``). Planar formats (``native`` output of most
        codecs) have no single array: use :attr:`planes`, or :meth:`tobytes`.
        """
        if self.is_encoded:
            pl = self.layout[0]
            return self._plane_view(pl, np.dtype(np.uint8), (pl.row_bytes,), (1,))
        if len(self.layout) != 1:
            raise ValueError(
                f"frame {self.index} is planar ({self.pixel_format}, {len(self.layout)} planes): "
                "use .planes or .tobytes(), or request a packed format such as rgb24")
        pl = self.layout[0]
        sb = self.sample_bytes
        dtype = self._dtype()
        samples = pl.row_bytes // sb
        if self.width > 0 and samples % self.width == 0 and samples > 0:
            comps = samples // self.width
            if comps == 1:
                return self._plane_view(pl, dtype, (pl.rows, self.width), (pl.stride, sb))
            return self._plane_view(pl, dtype, (pl.rows, self.width, comps),
                                    (pl.stride, comps * sb, sb))
        # Sub-byte or otherwise odd packings (e.g. monow, v210): rows of samples.
        return self._plane_view(pl, dtype, (pl.rows, samples), (pl.stride, sb))

    def __array__(self, dtype=None, copy=None):
        a = self.array
        if dtype is not None and np.dtype(dtype) != a.dtype:
            return a.astype(dtype)
        return a.copy() if copy else a

    @property
    def data(self) -> memoryview:
        """The frame's bytes as a memoryview on the received buffer (no copy).

        For encoded frames: the image file (write it to ``frame.png`` as is). For raw frames
        only when the pixels are one unbroken range of one part (no row padding, planes back
        to back); otherwise ``ValueError`` (use :meth:`tobytes`).
        """
        first = self.layout[0]
        pos = first.offset
        for pl in self.layout:
            contiguous = pl.rows <= 1 or pl.stride == pl.row_bytes
            if pl.part != first.part or pl.offset != pos or not contiguous:
                raise ValueError(f"frame {self.index}: the pixels are not one contiguous range; "
                                 "use .tobytes()")
            pos = pl.offset + pl.rows * pl.row_bytes
        return self._buffer(first.part)[first.offset:pos]

    def tobytes(self) -> bytes:
        """Every plane's rows concatenated without padding (a copy).

        For raw frames this is exactly what ``ffmpeg -f rawvideo -pix_fmt <pixel_format>``
        writes for the frame; for encoded frames it is the image file.
        """
        chunks = []
        for pl in self.layout:
            buf = self._buffer(pl.part)
            if pl.rows <= 1 or pl.stride == pl.row_bytes:
                chunks.append(buf[pl.offset:pl.offset + pl.rows * pl.row_bytes])
            else:
                chunks.append(self._plane_view(pl, np.dtype(np.uint8), (pl.rows, pl.row_bytes),
                                               (pl.stride, 1)).tobytes())
        return b"".join(chunks)

    @property
    def nbytes(self) -> int:
        """Bytes of pixel data (without row padding)."""
        return sum(pl.rows * pl.row_bytes for pl in self.layout)

    def __repr__(self) -> str:
        return (f"<framewire.Frame {self.index} {self.width}x{self.height} {self.format}"
                f"/{self.pixel_format} {self.encoding} pts={self.pts} time={self.time:.3f}"
                f"{' key' if self.keyframe else ''} planes={len(self.layout)}>")
