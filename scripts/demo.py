"""The Python half of `make demo`: random frames into numpy arrays, saved as PNGs, with timings."""
import argparse
import os
import random
import time

import cv2
import numpy as np

import framewire


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--server", required=True)
    parser.add_argument("--movie", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    with framewire.Client(args.server, timeout=30.0) as client:
        info = client.info(args.movie)
        print(f"{args.movie}: {info.num_frames} frames {info.width}x{info.height} "
              f"{info.codec} {info.pixel_format} {info.fps:.2f} fps, {info.file_size / 1e6:.1f} MB")

        indices = random.Random(7).sample(range(info.num_frames), 8)
        print(f"{'frame':>6} {'shape':>16} {'client ms':>10}  worker stages (ms)")
        for n in indices:
            start = time.perf_counter()
            frame = client.get_frame(args.movie, n, format="rgb24")
            elapsed = (time.perf_counter() - start) * 1e3
            t = frame.timings
            print(f"{n:>6} {str(frame.array.shape):>16} {elapsed:>10.1f}  "
                  f"queue {t['queue'] * 1e3:.1f} read {t['read'] * 1e3:.1f} decode {t['decode'] * 1e3:.1f} "
                  f"convert {t['convert'] * 1e3:.1f} total {t['total'] * 1e3:.1f}")
            cv2.imwrite(os.path.join(args.out, f"py-frame-{n:04d}.png"),
                        cv2.cvtColor(frame.array, cv2.COLOR_RGB2BGR))

        batch = client.get_frames(args.movie, [30, 10, 20, 10], format="gray8")
        print("batch [30, 10, 20, 10] as gray8 ->", [f.index for f in batch], batch[0].array.shape)

        native = client.get_frame(args.movie, 0, format="native")
        print(f"native frame 0: {native.pixel_format}, planes",
              [(p.shape, str(p.dtype)) for p in native.planes])
        assert np.shares_memory(native.planes[0], native.planes[0])  # views, not copies


if __name__ == "__main__":
    main()
