"""A track's microphone timeline: chunks placed on the monotonic clock, cut at segments.

Mixed into :class:`~zhishiyun.capture.tracks.Track` (the camera track records the
microphone); it uses the track's segment state (``_segment``, ``_seg_start``,
``boundary``, ``_warmup_s``, ``_held_audio``) and its context's timeline.
"""

from __future__ import annotations

import math

import numpy as np

#: Decoders skip the AAC encoder's priming, but a segment's first frame of sound decodes
#: faded in (measured: a tone from input sample 0 is heard from sample ~1024 on; one from
#: 8000 at 8000). So each segment's audio also runs this many samples past its end, and
#: the next segment, which fades in over the same stretch, repeats them.
AUDIO_WARMUP = {"aac": 1024}
AUDIO_TOLERANCE_S = 0.02
RESYNC_S = 0.06
DRIFT_WINDOW_S = 10.0


class AudioTimeline:
    """Placing microphone chunks on the track's timeline (see the module docstring)."""

    def _audio_in(self, t_callback: float, item: tuple[np.ndarray, float] | None) -> None:
        """Place a microphone chunk on a timeline that follows the monotonic clock.

        Sample ``n`` of a stream is at ``anchor + n / rate``. Each chunk tells when its
        first sample was captured (callback time minus PortAudio's capture delay), which
        bounds the anchor from above: a lower bound moves the anchor earlier at once (a
        fast device clock, a late first callback), and the smallest bound of each
        ``DRIFT_WINDOW_S`` window moves it later when the device clock is slow by more than
        ``RESYNC_S``. ``None`` marks a reopened stream: its timeline starts afresh.
        """
        mic = self.microphone
        assert mic is not None
        if item is None:
            self._anchor = None
            return
        samples, delay = item
        self.audio_delay = max(delay, self.audio_delay * 0.999)  # slowly forgetting maximum
        mic.note_level(samples)
        rate = mic.rate
        if self._anchor is None:
            self._audio_total = 0
            self._window_start, self._window_min = t_callback, math.inf
        bound = t_callback - delay - self._audio_total / rate
        self._anchor = bound if self._anchor is None else min(self._anchor, bound)
        self._window_min = min(self._window_min, bound)
        if t_callback - self._window_start >= DRIFT_WINDOW_S:
            if self._window_min - self._anchor > RESYNC_S:
                self._anchor = self._window_min
                self.audio_resyncs += 1
            self._window_start, self._window_min = t_callback, math.inf
        t_first = self._anchor + self._audio_total / rate
        self._audio_total += samples.size
        self.audio_samples += samples.size
        mic.counters.encoded += 1
        self._audio_place(t_first, samples)

    def _audio_place(self, t_first: float, samples: np.ndarray) -> None:
        rate = self.microphone.rate  # type: ignore[union-attr]
        stop_t = self._ctx.timeline.stop_t
        if stop_t is not None:
            samples = samples[:max(0, int(round((stop_t - t_first) * rate)))]
        if t_first < self._seg_start:  # before the recording, or in the closed segment
            skip = min(samples.size, int(math.ceil((self._seg_start - t_first) * rate)))
            samples, t_first = samples[skip:], t_first + skip / rate
        # this segment takes [start, boundary + warm-up); the next one from its boundary on
        window_end = self.boundary + self._warmup_s
        here = min(samples.size, max(0, int(math.ceil((window_end - t_first) * rate))))
        if here:
            self._audio_write(t_first, samples[:here])
        later = min(samples.size, max(0, int(math.ceil((self.boundary - t_first) * rate))))
        if later < samples.size:
            self._held_audio.append((t_first + later / rate, samples[later:]))

    def _audio_write(self, t_first: float, samples: np.ndarray) -> None:
        assert self._segment is not None
        rate = self.microphone.rate  # type: ignore[union-attr]
        position = int(round((t_first - self._seg_start) * rate))
        delta = position - self._segment.audio_written
        if delta > AUDIO_TOLERANCE_S * rate:
            self._segment.add_audio(np.zeros(delta, np.float32))
        elif delta < -AUDIO_TOLERANCE_S * rate:
            samples = samples[-delta:]
        self._segment.add_audio(samples)

    # --- segments -------------------------------------------------------------------------
