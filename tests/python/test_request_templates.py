"""RequestTemplates: FRAMES requests patched from a template are byte for byte what
protocol.build_request makes, for every shape, and the unusual ones are built the ordinary way
(with the ordinary errors)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from framewire import protocol
from framewire.proto.Request import Request
from framewire.request_templates import RequestTemplates

FRAMES = protocol.RequestKind.FRAMES
OFFER = ("/proc/1/fd/3", "0123456789abcdef0123456789abcdef", 1 << 30)


def random_request(rng: random.Random):
    """Arguments of a FRAMES request as a client could send them."""
    fields = {}
    if rng.random() < 0.5:
        fields["format"] = rng.choice(protocol.FORMATS)
    if rng.random() < 0.3:
        fields["encoding"] = rng.choice(protocol.ENCODINGS)
        fields["quality"] = rng.choice([0, 75])
    if rng.random() < 0.3:
        fields["crop"] = (rng.randrange(100), rng.randrange(100), rng.randrange(1, 500), rng.randrange(1, 500))
    if rng.random() < 0.3:
        fields["width"], fields["height"] = rng.randrange(1, 999), rng.randrange(0, 999)
    if rng.random() < 0.3:
        fields["stream"] = True
    offer = None
    if rng.random() < 0.7:
        extents = [(rng.randrange(1 << 40), rng.randrange(1 << 40)) for _ in range(rng.randrange(1, 5))]
        offer = (*OFFER, extents)
    count = rng.choice([1, 1, 2, 5, 100])
    frames = [rng.randrange(-5, 1 << 40) for _ in range(count)]
    return dict(request_id=rng.randrange(1, 1 << 64), movie=rng.choice(["a.mov", "dir/b.mp4", "ü/c.mkv"]),
                frames=frames, timeout_ms=rng.choice([0, 1, 54000, 1 << 40]), shared_memory=offer, **fields)


def both(templates: RequestTemplates, args: dict):
    args = dict(args)
    request_id, movie = args.pop("request_id"), args.pop("movie")
    return (templates.build(request_id, FRAMES, movie, **args),
            protocol.build_request(request_id, FRAMES, movie, **args))


def test_patched_requests_are_the_built_ones_byte_for_byte():
    rng = random.Random(5)
    templates = RequestTemplates(capacity=4)  # small: shapes come and go
    shapes = [random_request(rng) for _ in range(12)]
    for _ in range(400):
        args = dict(rng.choice(shapes))  # the same shape again, with new values
        args["request_id"] = rng.randrange(1, 1 << 64)
        args["frames"] = [rng.randrange(-5, 1 << 40) for _ in args["frames"]]
        if args["timeout_ms"]:
            args["timeout_ms"] = rng.randrange(1, 1 << 33)
        if args["shared_memory"]:
            extents = [(rng.randrange(1 << 40), rng.randrange(1 << 40)) for _ in args["shared_memory"][3]]
            args["shared_memory"] = (*OFFER, extents)
        patched, built = both(templates, args)
        assert patched == built, args
    assert len(templates._templates) == 4


def test_what_a_client_sends_reads_back():
    templates = RequestTemplates()
    for request_id, frame in [(1, 10), (2, 11), (3, 500)]:
        body = templates.build(request_id, FRAMES, "m.mov", frames=[frame], format="rgb24", timeout_ms=900,
                               shared_memory=(*OFFER, [(4096, 1 << 20)]))
        r = Request.GetRootAs(body, 0)
        assert (r.Id(), list(r.FramesAsNumpy()), r.TimeoutMs()) == (request_id, [frame], 900)
        e = r.SharedMemory().Free(0)
        assert (e.Offset(), e.Length()) == (4096, 1 << 20)


@pytest.mark.parametrize("args", [
    dict(request_id=0, frames=[1]),                       # id 0 is left out of the table
    dict(request_id=1 << 64, frames=[1]),                 # ... and so is an id that wraps to 0
    dict(request_id=5, frames=(i for i in [3, 4])),       # a generator, read once
    dict(request_id=5, frames=np.array([3, -1], np.int32)),
    dict(request_id=5, frames=[1], times=[0.5]),          # times: built the ordinary way
    dict(request_id=5, frames=[2 ** 63 + 1]),             # not int64: as build_request wraps it
    dict(request_id=5, frames=[1], crop=np.array([1, 2, 3, 4])),  # unhashable: ordinary
])
def test_unusual_requests_are_built_the_ordinary_way(args):
    args = dict(args, movie="m.mov")
    if not isinstance(args["frames"], (list, np.ndarray)):
        args_again = dict(args, frames=(i for i in [3, 4]))
    else:
        args_again = dict(args)
    request_id, movie = args.pop("request_id"), args.pop("movie")
    patched = RequestTemplates().build(request_id, FRAMES, movie, **args)
    args_again.pop("request_id"), args_again.pop("movie")
    assert patched == protocol.build_request(request_id, FRAMES, movie, **args_again)


@pytest.mark.parametrize("frames, error", [([1.5], TypeError), ([True], TypeError), ([2 ** 70], TypeError)])
def test_bad_frame_indices_raise_what_build_request_raises(frames, error):
    with pytest.raises(error):
        protocol.build_request(1, FRAMES, "m.mov", frames=frames)
    with pytest.raises(error):
        RequestTemplates().build(1, FRAMES, "m.mov", frames=frames)


def test_other_kinds_are_built_the_ordinary_way():
    templates = RequestTemplates()
    for kind in (protocol.RequestKind.INFO, protocol.RequestKind.LIST, protocol.RequestKind.STATS):
        assert templates.build(3, kind, "m.mov", timeout_ms=10) == protocol.build_request(3, kind, "m.mov",
                                                                                           timeout_ms=10)
    assert not templates._templates
