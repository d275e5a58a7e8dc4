"""A legacy app for the compose demo: the unmodified v1 SDK, whose host name now resolves to v1proxy."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from qcloud_image import CIFile, CIFiles, Client

# Nothing here points the SDK elsewhere: it calls http://service.image.myqcloud.com/, a name the compose
# network resolves to the proxy. These are the app's own v1 credentials (the demo ones).
APPID = os.environ.get("V1_APPID", "1250000000")
SECRET_ID = os.environ.get("V1_SECRET_ID", "AKIDv1proxyDemoLegacyKey")
SECRET_KEY = os.environ["V1_SECRET_KEY"]
BUCKET = os.environ.get("V1_BUCKET", "demo")
PHOTOS = Path(os.environ.get("PHOTOS", "/photos/faces"))


def main() -> int:
    client = Client(APPID, SECRET_ID, SECRET_KEY, BUCKET)
    alice = [str(PHOTOS / f"subject0_photo{i}.jpg") for i in range(2)]
    bob = str(PHOTOS / "subject1_photo0.jpg")
    person = "compose-demo-alice"
    client.face_delperson(person)  # a rerun starts clean; "no such person" is fine
    steps = [
        ("newperson", lambda: client.face_newperson(person, ["compose-demo"], CIFile(alice[0]), "Alice", "demo")),
        ("verify", lambda: client.face_verify(person, CIFile(alice[1]))),
        ("identify", lambda: client.face_identify("compose-demo", CIFile(alice[1]))),
        ("compare", lambda: client.face_compare(CIFile(alice[0]), CIFile(bob))),
        ("addface", lambda: client.face_addface(person, CIFiles([alice[1]]))),
        ("getinfo", lambda: client.face_getinfo(person)),
    ]
    failed = 0
    for name, call in steps:
        answer = call()
        code = answer.get("code", answer.get("httpcode"))
        print(json.dumps({"step": name, "code": code, "message": answer.get("message")}), flush=True)
        failed += code != 0
    print(json.dumps({"result": "ok" if not failed else "failed", "failed_steps": failed}), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
