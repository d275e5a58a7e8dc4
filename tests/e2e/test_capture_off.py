"""faces.capture_attributes: false — writes skip the DetectFace per image; getfaceinfo answers zeros."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from qcloud_image import CIFile, CIFiles, Client
from qcloud_image.conf import Conf

from proxy.app import METRICS
from proxy.commands.demo import DEMO_APPID, DEMO_BUCKET, DEMO_SECRET_ID, DEMO_SECRET_KEY, demo_settings, start_stack
from proxy.emulator.synthetic import subject_photo


def detect_face_calls(metrics: Any) -> float:
    value = metrics.registry.get_sample_value("v1proxy_v3_call_seconds_count", {"action": "DetectFace"})
    return float(value or 0.0)


@pytest.mark.parametrize("capture", [True, False])
async def test_attribute_capture_switch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capture: bool) -> None:
    def settings_for(upstream: str) -> Any:
        base = demo_settings(
            host="127.0.0.1", port=0, upstream_url=upstream, store_url=f"sqlite:///{tmp_path / 'meta.db'}"
        )
        return base.model_copy(update={"faces": base.faces.model_copy(update={"capture_attributes": capture})})

    stack = await start_stack(store_url=f"sqlite:///{tmp_path / 'meta.db'}", settings_for=settings_for)
    try:
        monkeypatch.setattr(Conf, "_Conf__SERVICE_ADDR", stack.proxy_url.removeprefix("http://"))
        for i in range(3):
            (tmp_path / f"{i}.jpg").write_bytes(subject_photo(0, i))
        client = Client(DEMO_APPID, DEMO_SECRET_ID, DEMO_SECRET_KEY, DEMO_BUCKET)
        created = await asyncio.to_thread(client.face_newperson, "ann", ["staff"], CIFile(str(tmp_path / "0.jpg")))
        added = await asyncio.to_thread(
            client.face_addface, "ann", CIFiles([str(tmp_path / "1.jpg"), str(tmp_path / "2.jpg")])
        )
        assert created["code"] == 0 and added["code"] == 0, (created, added)
        info = await asyncio.to_thread(client.face_getfaceinfo, created["data"]["face_id"])
        assert info["code"] == 0, info
        face = info["data"]["face_info"]
        metrics = stack.proxy.app[METRICS]
        if capture:
            assert detect_face_calls(metrics) == 3  # one per added image
            assert face["width"] > 0 and face["age"] > 0
        else:
            assert detect_face_calls(metrics) == 0
            assert (face["x"], face["y"], face["width"], face["height"], face["age"]) == (0, 0, 0, 0, 0)
    finally:
        await stack.close()
