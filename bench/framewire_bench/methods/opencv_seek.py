"""OpenCV ``VideoCapture`` (FFmpeg backend) with ``CAP_PROP_POS_FRAMES``: the seek most
tutorials show. The capture is held open; every request sets the position and reads one
frame; consecutive frames of a batch are read without setting the position again. OpenCV
returns BGR; the RGB array is a view with reversed channels (no copy)."""

from __future__ import annotations

from typing import List, Sequence

import cv2
import numpy as np

from ..movies import Movie
from . import Method


class OpenCVSeek(Method):
    name = "opencv"
    label = "OpenCV, CAP_PROP_POS_FRAMES"

    def __init__(self, movie: Movie):
        super().__init__()
        self.movie = movie
        self.cap = None

    def open(self) -> None:
        self.cap = cv2.VideoCapture(str(self.movie.path), cv2.CAP_FFMPEG)
        if not self.cap.isOpened():
            raise RuntimeError(f"OpenCV cannot open {self.movie.path}")

    def fetch(self, frames: Sequence[int]) -> List[np.ndarray]:
        out = []
        prev = None
        for n in frames:
            if prev is None or n != prev + 1:
                self.cap.set(cv2.CAP_PROP_POS_FRAMES, n)
            ok, bgr = self.cap.read()
            if not ok:
                raise RuntimeError(f"OpenCV read() failed at frame {n}")
            out.append(bgr[..., ::-1])
            prev = n
        return out

    def close(self) -> None:
        if self.cap is not None:
            self.cap.release()

    def describe(self) -> str:
        return f"OpenCV {cv2.__version__}, FFmpeg backend, default threads"
