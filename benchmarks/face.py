"""Per-frame cost of face login and presence: client guidance and server verification.

Measures, in this process, on real faces (scikit-image's astronaut, transformed copies):

* client: :class:`~zhishiyun.auth.face_guide.FaceGuide` per 640×480 frame (Haar cascade),
  as ms and frames per second, for frames with a face and without one;
* server: the whole verification of a burst (decode, dlib detection, 68 landmarks,
  liveness, three embeddings) per frame and per burst, and one embedding alone;
* presence: ms per sample and the share of one core at one sample per second.

The reference measured in the same run is a plain OpenCV Gaussian blur (7×7) of the same
frame; every result also says how many of those one frame costs (``ratio_to_blur``), so
numbers from loaded or slow machines stay comparable. Prints JSON.

    python benchmarks/face.py [--rounds 30] [--smoke]

``--smoke`` runs three rounds: it checks that the benchmark works, measures nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "face"))


def _median_ms(func, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        func()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--smoke", action="store_true",
                        help="three rounds: checks that it runs, measures nothing")
    args = parser.parse_args()
    rounds = 3 if args.smoke else args.rounds

    import faces  # the test faces (needs scikit-image, matplotlib, dlib)

    from zhishiyun.auth.face_guide import FaceGuide
    from zhishiyun.auth.presence import PresenceSampler
    from zhishiyun_server.face.engine import get_engine
    from zhishiyun_server.face.liveness import FrameIn, read_frames, verify_burst

    frame = cv2.cvtColor(faces.portrait("astronaut"), cv2.COLOR_RGB2BGR)
    empty = np.full_like(frame, 110)
    blur_ms = _median_ms(lambda: cv2.GaussianBlur(frame, (7, 7), 0), rounds * 3)

    guide = FaceGuide()
    with_face = _median_ms(lambda: guide.assess(frame), rounds)
    without = _median_ms(lambda: guide.assess(empty), rounds)

    engine = get_engine()
    engine.warm_up()
    actions = ["blink", "turn_left"]
    burst = [FrameIn(jpeg=j, t_ms=t, step=s) for j, t, s in faces.burst("astronaut", actions)]
    enrolled = engine.embed(faces.portrait("astronaut"),
                            engine.detect(faces.portrait("astronaut"))[0])
    server_rounds = max(3, rounds // 10)
    burst_ms = _median_ms(lambda: verify_burst(engine, burst, actions, enrolled, 0.6),
                          server_rounds)
    read_ms = _median_ms(lambda: read_frames(engine, burst), server_rounds)
    rgb = faces.portrait("astronaut")
    face = engine.detect(rgb)[0]
    embed_ms = _median_ms(lambda: engine.embed(rgb, face), rounds // 3 or 1)

    sampler = PresenceSampler()
    for _ in range(rounds):
        sampler.sample(frame)
    presence = sampler.cost()

    def entry(ms: float) -> dict:
        return {"ms": round(ms, 2), "ratio_to_blur": round(ms / blur_ms, 1)}

    print(json.dumps({
        "smoke": args.smoke,
        "reference_blur_7x7_ms": round(blur_ms, 3),
        "client_guidance_face": {**entry(with_face), "fps": round(1000 / with_face, 1)},
        "client_guidance_no_face": {**entry(without), "fps": round(1000 / without, 1)},
        "server_burst": {**entry(burst_ms), "frames": len(burst),
                         "per_frame_ms": round(burst_ms / len(burst), 2)},
        "server_read_per_frame": entry(read_ms / len(burst)),
        "server_embedding": entry(embed_ms),
        "presence": {**presence, "ratio_to_blur": round(presence["ms_per_sample"] / blur_ms, 1)},
        "target_guidance_fps": 10,
        "guidance_meets_target": 1000 / max(with_face, without) >= 10,
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
