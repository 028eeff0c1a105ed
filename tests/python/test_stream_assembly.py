"""framewire.stream.StreamAssembly without sockets: the messages of a (streamed) FRAMES reply
placed by Reply.position into request order (PROTOCOL.md 3)."""

from __future__ import annotations

import numpy as np
import pytest

import framewire
from framewire import protocol
from framewire.stream import StreamAssembly
from fw_helpers import build_reply

W, H = 4, 2
FRAME_BYTES = W * H * 3


def message(request_id, indices, position=0, more=False, fill=None, worker="w1",
            timings=None, frame_timings=True):
    """One reply message with frames ``indices`` at request positions ``position``...; every
    pixel of a frame is ``fill`` (default: the frame's index)."""
    specs, payload = [], bytearray()
    for k, index in enumerate(indices):
        spec = dict(index=index, width=W, height=H, format="rgb24",
                    planes=[(0, k * FRAME_BYTES, W * 3, W * 3, H)])
        if frame_timings:
            spec["timings"] = (0, 0, 10 + index, 0, 0, 20 + index)
        specs.append(spec)
        payload += bytes([(index if fill is None else fill) % 256]) * FRAME_BYTES
    header = build_reply(request_id, frames=specs, more=more, position=position, worker=worker,
                         timings=timings)
    return protocol.parse_reply_header(header), ([bytes(payload)] if indices else [])


def error_message(request_id, status=7, text="damaged at frame 5"):
    return protocol.parse_reply_header(build_reply(request_id, status=status, message=text)), []


def pixels(frames):
    return [int(f.array[0, 0, 0]) for f in frames]


def test_in_order_messages():
    wanted = [10, 11, 12, 13, 14]
    a = StreamAssembly(5, requested=wanted)
    assert a.add(*message(1, [10, 11], 0, more=True)) is False
    assert not a.done and a.missing() == [2, 3, 4]
    assert a.add(*message(1, [12], 2, more=True)) is False
    assert a.add(*message(1, [13, 14], 3, more=False, timings=(5, 6, 7, 8, 9, 30))) is True
    assert a.done and a.messages == 3
    frames = a.frames(round_trip=0.25)
    assert [f.index for f in frames] == wanted
    assert pixels(frames) == wanted
    assert all(f.timings.round_trip == 0.25 for f in frames)
    assert frames[0].timings.decode == pytest.approx(20e-6)  # the frame's own timings


def test_each_frame_keeps_its_own_message_parts_without_copying():
    a = StreamAssembly(3, requested=[0, 1, 2])
    first = message(1, [0, 1], 0, more=True)
    last = message(1, [2], 2)
    a.add(*first)
    a.add(*last)
    frames = a.frames()
    assert frames[0].parts is frames[1].parts
    assert frames[2].parts is not frames[0].parts
    assert np.shares_memory(frames[1].array, np.frombuffer(first[1][0], np.uint8))
    assert np.shares_memory(frames[2].array, np.frombuffer(last[1][0], np.uint8))


def test_out_of_order_positions():
    wanted = [7, 3, 3, 9]
    a = StreamAssembly(4, requested=wanted)
    a.add(*message(1, [3, 9], 2, more=True))
    a.add(*message(1, [7], 0, more=True))
    a.add(*message(1, [3], 1, more=False))
    assert [f.index for f in a.frames()] == wanted


def test_restart_from_zero_after_a_partial_stream_overwrites():
    # The first worker streamed positions 0..2 and died; the second streams everything again.
    wanted = [0, 1, 2, 3, 4]
    a = StreamAssembly(5, requested=wanted)
    a.add(*message(1, [0, 1], 0, more=True, fill=100, worker="dead"))
    a.add(*message(1, [2], 2, more=True, fill=100, worker="dead"))
    a.add(*message(1, [0, 1, 2], 0, more=True, fill=200, worker="alive"))
    a.add(*message(1, [3, 4], 3, more=False, fill=200, worker="alive"))
    frames = a.frames()
    assert [f.index for f in frames] == wanted
    assert pixels(frames) == [200] * 5
    assert {f.worker for f in frames} == {"alive"}


def test_restart_that_ends_in_one_message_overwrites_too():
    a = StreamAssembly(3, requested=[5, 6, 7])
    a.add(*message(1, [5, 6], 0, more=True, fill=1))
    a.add(*message(1, [5, 6, 7], 0, more=False, fill=2))
    assert pixels(a.frames()) == [2, 2, 2]


def test_error_in_the_middle_ends_the_call_with_that_error():
    a = StreamAssembly(4, requested=[0, 1, 2, 3])
    a.add(*message(1, [0, 1], 0, more=True))
    with pytest.raises(framewire.DecodeError) as e:
        a.add(*error_message(1))
    assert e.value.message == "damaged at frame 5"


def test_error_as_the_only_message():
    a = StreamAssembly(2, requested=[0, 99])
    with pytest.raises(framewire.OutOfRange):
        a.add(*error_message(1, status=2, text="frame 99 >= 48"))


def test_missing_position_at_the_end_is_a_protocol_error():
    a = StreamAssembly(6, requested=[0, 1, 2, 3, 4, 5])
    a.add(*message(1, [0], 0, more=True))
    a.add(*message(1, [3], 3, more=True))
    assert a.add(*message(1, [5], 5, more=False)) is True
    with pytest.raises(framewire.ProtocolError) as e:
        a.frames()
    text = str(e.value)
    assert "1-2, 4" in text and "3 of 6" in text
    assert a.missing() == [1, 2, 4]


def test_frames_before_the_last_message_is_a_protocol_error():
    a = StreamAssembly(2, requested=[0, 1])
    a.add(*message(1, [0, 1], 0, more=True))
    with pytest.raises(framewire.ProtocolError):
        a.frames()


def test_single_message_without_streaming():
    a = StreamAssembly(3, requested=[4, 2, 4], streamed=False)
    assert a.add(*message(1, [4, 2, 4], 0, timings=(1, 2, 3, 4, 5, 6))) is True
    frames = a.frames(round_trip=0.5)
    assert [f.index for f in frames] == [4, 2, 4]
    assert frames[0].parts is frames[2].parts


def test_more_on_a_request_that_did_not_stream_is_a_protocol_error():
    a = StreamAssembly(2, requested=[0, 1], streamed=False)
    with pytest.raises(framewire.ProtocolError):
        a.add(*message(1, [0], 0, more=True))


def test_frames_past_the_request_are_a_protocol_error():
    a = StreamAssembly(2, requested=[0, 1])
    with pytest.raises(framewire.ProtocolError):
        a.add(*message(1, [1, 2], 1))


def test_wrong_frame_at_a_position_is_a_protocol_error():
    a = StreamAssembly(2, requested=[0, 1])
    with pytest.raises(framewire.ProtocolError) as e:
        a.add(*message(1, [5], 1))
    assert "position 1" in str(e.value)


def test_by_time_the_server_chooses_the_indices():
    a = StreamAssembly(3)  # requested=None: get_frames_at
    a.add(*message(1, [0, 0], 0, more=True))
    a.add(*message(1, [17], 2))
    assert [f.index for f in a.frames()] == [0, 0, 17]


def test_message_after_the_last_is_a_protocol_error():
    a = StreamAssembly(1, requested=[0])
    a.add(*message(1, [0], 0))
    with pytest.raises(framewire.ProtocolError):
        a.add(*message(1, [0], 0))


def test_request_timings_come_from_the_last_message():
    # Frames without timings of their own take the request's totals: the last message's.
    a = StreamAssembly(3, requested=[0, 1, 2])
    a.add(*message(1, [0, 1], 0, more=True, frame_timings=False, timings=(1, 1, 1, 1, 1, 1)))
    a.add(*message(1, [2], 2, frame_timings=False, timings=(40, 0, 500, 0, 0, 900)))
    frames = a.frames(round_trip=1.0)
    for f in frames:
        assert f.timings.queue == pytest.approx(40e-6)
        assert f.timings.total == pytest.approx(900e-6)
        assert f.timings.round_trip == 1.0
