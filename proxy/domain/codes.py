"""The v1 code table (code -> HTTP status, default message) and V1Error, the one exception a v1 answer raises.

Which HTTP status goes with which v1 code, and why
--------------------------------------------------
The legacy SDK (`qcloud_image.http.Http.post`) parses the JSON body whatever the status and only
adds it as ``httpcode``; apps built on it branch on ``code``. What v1 itself put on the status line
for errors is not documented (every seed sample is ``200 OK`` with ``code: 0``). We therefore keep
``200`` for every *business outcome* of a well-formed, authenticated request -- face detection
failed, person exists / does not exist, limits reached, image undecodable -- exactly as a v1 app
would have seen an answer "from the service", so hand-written clients that treat non-2xx as a
transport failure keep reading the v1 code. Requests the proxy refuses before doing any work get
the 4xx status that says so (malformed request 400, bad or missing credentials 401, credentials
not valid for this target 403, body too large 413, throttled 429), and trouble on our side or
upstream gets 502/503, so load balancers, access logs and monitoring see the truth. No v1 code
maps to 500: an unexpected exception is answered as 213 with 502 and never as an HTML error page.

=====================================  ======  ============================================
v1 code                                status  reason
=====================================  ======  ============================================
3 bad request, 21 invalid parameter     400     the request itself is malformed
-1300 image empty, -1301 param empty    400     required input missing
-1304 param too long, -1313 bad chars   400     input refused by a syntax rule
4 5 9 11 13 14 (signature problems)     401     credentials absent, malformed, expired, wrong
6 10 12 (appid/bucket/SecretId mism.)   403     valid-looking credentials, wrong target
16 bucket does not exist                404     the addressed bucket is unknown
23 body too large                       413     refused before reading the body
24 interface retired                    410     gone for good
15 too frequent                         429     throttled (also upstream RequestLimitExceeded)
213 internal error                      502     unexpected failure here or upstream
107 108 auth service unavailable        503     try again later
everything else (face/person/group)     200     a business answer of the service
=====================================  ======  ============================================
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# v1 code -> (HTTP status, default message). Messages are English renderings of the v1 table
# (seeds 000_/002_); the seeds' own wording is Chinese and apps only compare ``code``.
V1_CODES: Mapping[int, tuple[int, str]] = MappingProxyType(
    {
        0: (200, "OK"),
        3: (400, "bad request"),
        4: (401, "signature is empty"),
        5: (401, "signature is malformed"),
        6: (403, "appid/bucket in the signature do not match the request"),
        9: (401, "signature expired"),
        10: (403, "appid does not exist"),
        11: (401, "SecretId does not exist"),
        12: (403, "appid and SecretId do not match"),
        13: (401, "replayed signature"),
        14: (401, "signature check failed"),
        15: (429, "too many requests, throttled"),
        16: (404, "bucket does not exist"),
        21: (400, "invalid parameter"),
        23: (413, "request body too large"),
        24: (410, "this interface has been retired"),
        107: (503, "authentication service unavailable"),
        108: (503, "authentication service unavailable"),
        213: (502, "internal error"),
        -1101: (200, "face detection failed"),
        -1102: (200, "image decoding failed"),
        -1103: (200, "feature processing failed"),
        -1104: (200, "contour extraction failed"),
        -1105: (200, "gender extraction failed"),
        -1106: (200, "expression extraction failed"),
        -1107: (200, "age extraction failed"),
        -1108: (200, "pose extraction failed"),
        -1109: (200, "glasses extraction failed"),
        -1200: (200, "feature storage failed"),
        -1300: (400, "image is empty"),
        -1301: (400, "parameter is empty"),
        -1302: (200, "person already exists"),
        -1303: (200, "person does not exist"),
        -1304: (400, "parameter too long"),
        -1305: (200, "face does not exist"),
        -1306: (200, "group does not exist"),
        -1307: (200, "group list does not exist"),
        -1308: (200, "url image download failed"),
        -1309: (200, "too many faces"),
        -1310: (200, "too many persons"),
        -1311: (200, "too many groups"),
        -1312: (200, "an almost identical face was already added to this person"),
        -1313: (400, "invalid parameter (special characters such as space, slash, tab, newline)"),
        -1400: (200, "illegal image format"),
        -1403: (200, "image download failed"),
    }
)

# Codes outside the table (a custom error map may produce them): business answers by default,
# unless positive (v1's positive codes are all request/infrastructure level).
UNKNOWN_NEGATIVE_STATUS = 200
UNKNOWN_POSITIVE_STATUS = 400


def http_status_for(code: int) -> int:
    """The HTTP status that accompanies a v1 code (see the module table)."""
    entry = V1_CODES.get(code)
    if entry is not None:
        return entry[0]
    return UNKNOWN_NEGATIVE_STATUS if code < 0 else UNKNOWN_POSITIVE_STATUS


def default_message(code: int) -> str:
    """The message of a v1 code when the raiser gives none."""
    entry = V1_CODES.get(code)
    return entry[1] if entry is not None else f"error {code}"


class V1Error(Exception):
    """A v1 answer other than success: its code, message and (compare) failed-image flag.

    ``session_id`` carries the v3 RequestId when the error came back from an upstream call, so the
    rendered ``data.session_id`` lets a support ticket quote it.
    """

    def __init__(
        self,
        code: int,
        message: str | None = None,
        *,
        fail_flag: int | None = None,
        session_id: str | None = None,
    ) -> None:
        self.code = code
        self.message = message if message is not None else default_message(code)
        self.fail_flag = fail_flag
        self.session_id = session_id
        super().__init__(code, self.message)

    @property
    def http_status(self) -> int:
        return http_status_for(self.code)

    def __str__(self) -> str:
        return f"v1 code {self.code}: {self.message}"

    def __repr__(self) -> str:
        return f"V1Error({self.code!r}, {self.message!r}, fail_flag={self.fail_flag!r})"
