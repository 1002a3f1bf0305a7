"""Face login and second-camera calls of :class:`~zhishiyun.api.client.ServerClient`.

They answer plain JSON objects: the auth package turns face refusals into candidate
messages, the exam package parses the binding status itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from zhishiyun.api.errors import ApiError
from zhishiyun.api.wire import _load_json
from zhishiyun.api.wire import path_segment as _seg


class FaceAndPhoneCalls:
    """Mixin of ``ServerClient``: it relies on the client's ``raw`` and ``transport``."""

    def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.raw(method, path, **kwargs)
        data = _load_json(response.content)
        if not isinstance(data, dict):
            raise ApiError(response.status_code, "bad_reply", "expected a JSON object")
        return data

    def face_challenge(self, name: str, id_number: str) -> dict[str, Any]:
        """``POST /auth/face/challenge``: the actions to perform, as JSON."""
        return self._json("POST", "/auth/face/challenge", auth=False,
                          json={"name": name, "id_number": id_number})

    def face_verify(self, fields: Mapping[str, str],
                    frames: list[tuple[str, bytes]]) -> dict[str, Any]:
        """``POST /auth/face`` with the form ``fields`` and JPEG ``frames`` (name, bytes)."""
        files = [("frames", (name, jpeg, "image/jpeg")) for name, jpeg in frames]
        size = sum(len(jpeg) for _name, jpeg in frames)
        return self._json("POST", "/auth/face", auth=False, files=files, data=dict(fields),
                          timeout=self.transport.deadline_for(size))

    def face_cancel(self, challenge_id: str, id_number: str) -> dict[str, Any]:
        """``POST /auth/face/challenge/{id}/cancel``."""
        return self._json("POST", f"/auth/face/challenge/{_seg(challenge_id)}/cancel",
                          auth=False, json={"id_number": id_number})

    def face_review(self, name: str, id_number: str, photo_jpeg: bytes) -> dict[str, Any]:
        """``POST /auth/face/review`` with a photo holding the ID card."""
        return self._json("POST", "/auth/face/review", auth=False,
                          data={"name": name, "id_number": id_number},
                          files=[("photo", ("review.jpg", photo_jpeg, "image/jpeg"))],
                          timeout=self.transport.deadline_for(len(photo_jpeg)))

    def face_review_status(self, review_id: int, secret: str) -> dict[str, Any]:
        """``GET /auth/face/review/{id}`` (the secret proves it is the same candidate)."""
        return self._json("GET", f"/auth/face/review/{int(review_id)}", auth=False,
                          idempotent=True, headers={"X-Review-Secret": secret})

    def create_binding(self, session_id: str, ttl_s: int | None = None) -> dict[str, Any]:
        """``POST /sessions/{sid}/bindings``: a fresh bind code for the phone, as JSON."""
        body = {"ttl_s": int(ttl_s)} if ttl_s else {}
        return self._json("POST", f"/sessions/{_seg(session_id)}/bindings", json=body)

    def create_exam_binding(self, exam_id: int, ttl_s: int | None = None) -> dict[str, Any]:
        """``POST /exams/{id}/bindings``: a bind code from the exam card, before entering."""
        body = {"ttl_s": int(ttl_s)} if ttl_s else {}
        return self._json("POST", f"/exams/{int(exam_id)}/bindings", json=body)

    def exam_binding_status(self, exam_id: int,
                            timeout: float | None = None) -> dict[str, Any]:
        """``GET /exams/{id}/bindings/status``: the phone bound from the exam card."""
        return self._json("GET", f"/exams/{int(exam_id)}/bindings/status", idempotent=True,
                          timeout=timeout)

    def binding_status(self, session_id: str, timeout: float | None = None) -> dict[str, Any]:
        """``GET /sessions/{sid}/bindings/status`` as JSON."""
        return self._json("GET", f"/sessions/{_seg(session_id)}/bindings/status",
                          idempotent=True, timeout=timeout)
