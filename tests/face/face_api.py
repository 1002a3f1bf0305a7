"""HTTP helpers for the face-login tests (what any client would send)."""

from __future__ import annotations

import json

import requests

ZHANG = ("张三", "110101199003070011")  # demo photo: the astronaut; password login allowed
LI = ("李四", "440304199508150021")  # drawn photo (no face): the demo enrols at first login


class FaceApi:
    """Plain HTTP calls against a running server (what any client would send)."""

    def __init__(self, url: str) -> None:
        self.api = url + "/api/v1"

    def challenge(self, who=ZHANG) -> requests.Response:
        return requests.post(self.api + "/auth/face/challenge",
                             json={"name": who[0], "id_number": who[1]}, timeout=30)

    def verify(self, challenge_id: str, frames, who=ZHANG) -> requests.Response:
        evidence = {"frames": [{"t_ms": t, "step": s} for _j, t, s in frames]}
        files = [("frames", (f"{i}.jpg", j, "image/jpeg")) for i, (j, _t, _s) in
                 enumerate(frames)]
        return requests.post(self.api + "/auth/face", files=files, timeout=60, data={
            "challenge_id": challenge_id, "name": who[0], "id_number": who[1],
            "evidence": json.dumps(evidence)})

    def attempt(self, make_frames, who=ZHANG) -> requests.Response:
        """A challenge, then ``make_frames(actions)`` sent for it."""
        reply = self.challenge(who)
        assert reply.status_code == 200, reply.text
        body = reply.json()
        return self.verify(body["challenge_id"], make_frames(body["actions"]), who)

    def cancel(self, challenge_id: str, who=ZHANG) -> requests.Response:
        return requests.post(f"{self.api}/auth/face/challenge/{challenge_id}/cancel",
                             json={"id_number": who[1]}, timeout=30)


def error(reply: requests.Response) -> dict:
    """The ``error`` object of a refusal."""
    return reply.json()["error"]
