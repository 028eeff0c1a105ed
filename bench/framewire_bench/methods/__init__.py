"""Ways of getting frame n of a movie as an rgb24 numpy array: framewire and its peers.

Each method is one small class in its own module, with the same life cycle:

    m.open()                 # connect / open the movie (not timed)
    m.warm(n)                # one untimed fetch, so first-use costs stay out of the samples
    arrays = m.fetch([n])    # timed by the runner; a list of (H, W, 3) uint8 arrays, one per
                             # requested frame, or None for floors that return no frames
    m.close()

``fetch`` must return fully materialised arrays (or views on received buffers), so the
timed span covers everything a user waits for. A method may set ``self.timed_s`` inside
``fetch`` to replace the wall-clock time of that sample (the ffmpeg decode floor reports
ffmpeg's own loop time), and ``self.sample_meta`` to attach numbers to the sample (server
stage timings, cache tier, ...). ``describe()`` says how the method is configured, for the
report.

To add a method: subclass :class:`Method` in a new module and use it in a scenario
(scenarios/).
"""

from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np


class Method:
    name = "method"                    # stable id (JSON key, plot legend)
    label = "method"                   # table text
    returns_frames = True              # False for floors (their output is not a frame)

    def __init__(self):
        self.timed_s: Optional[float] = None
        self.sample_meta: Optional[dict] = None

    def open(self) -> None:
        pass

    def warm(self, n: int) -> None:
        self.fetch([n])

    def fetch(self, frames: Sequence[int]) -> Optional[List[np.ndarray]]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return ""
