"""A local legacy v1 face service (the retired API of seeds 002_, 000_, 003_): what a staged migration starts from.

Layout, like `proxy.emulator`: `routes` (HTTP pipeline), `wire` (hosts, fields, replies),
`models` (state per appid and v1's rules), `ops` (the explicit op table), `exceptions`
(v1 codes), `images`, `scoring` (the 2.0-scale relation to the v3 emulator's scores),
`persistence` (``--state``), `runtime`/`app`. Production code never imports it (import-linter).

Signatures are checked by the proxy's own `proxy.v1.auth` (codes 4-14) and bodies read by
`proxy.v1.form` (JSON or multipart, 21/23), so the two agree by construction.

Behaviours the documents leave open, and what this service does
---------------------------------------------------------------
1. HTTP status of an error: the proxy's table (`proxy.domain.codes.http_status_for`): business
   answers (-1xxx) 200, malformed 400, signature 401/403, too large 413, internal 502.
2. Error body: ``{"data": {"session_id": S[, "fail_flag": 1|2]}, "code": N, "message": M}``.
3. ``session_id``: a fresh 32-hex id in every reply whose documented shape has one (success and
   error); getgroupids/getpersonids/getfaceids/getfaceinfo replies carry none (as documented).
4. Hosts: the Host header ``recognition.image.myqcloud.com`` serves only ``/face/compare`` (bucket
   optional); any other Host is the service host (all 13 ops, ``bucket`` required: -1301). An op
   a host does not serve, or an unknown op: code 3 with HTTP 404.
5. Order of checks: op/host -> body (21, 23) -> appid (-1301) -> signature (4-14) -> bucket
   (-1301) -> op fields -> existence/limits -> images. So newperson on an existing person is
   -1302 even with a broken image.
6. Buckets: any bucket name is accepted (no 16); data belongs to the appid ("获取一个AppId下所有
   group列表"), so every bucket of an appid sees the same groups. (The proxy scopes by appid+bucket.)
7. Ids (person_id, group_id, face_id): at most 64 UTF-8 bytes (-1304); space, ``/``, tab, CR, LF,
   VT, FF, NUL refused (-1313); everything else (dots, CJK, ``%``...) accepted verbatim.
   person_name at most 64 bytes, tag at most 256 bytes (-1304). Empty required values -1301.
8. Images: url wins over bytes; download failure -1308; GIF/WebP/TIFF/HEIC -1400; undecodable
   -1102; no face or shorter side < 64 px -1101; several faces: the largest is used.
9. newperson: repeated group ids count once; ``suc_group`` = distinct groups, ``suc_face`` = 1;
   the person's tag also labels its first face.
10. addface: answers code 0 whenever the person exists, with one ``ret_codes`` entry per image in
    input order (0, -1308, -1400, -1102, -1101, -1309 past 20 faces, -1312 near duplicate of a
    face the person already has, including one added earlier in the same call); ``tag`` labels
    the added faces, not the person.
11. delface: ids not on the person are skipped; none deleted -> -1305. A person may lose its last
    face (then verify answers -1305).
12. Groups vanish with their last member (delperson); getgroupids on an appid without groups is
    -1307 (组列表不存在); getpersonids/identify on an unknown group -1306.
13. setinfo without person_name or tag: success, nothing changed; "" clears the value.
14. verify: the person's best face; ``ismatch`` = confidence >= 80 (2.0's FAR 1e-4 point).
    identify: top 5 persons by best face, ties by person_id; ``tag`` is the face's tag, else the
    person's tag. Scores: `proxy.legacy.scoring` (float32 values).
15. Limits: body 1.5 MB (23); 5000 groups per appid (-1311), 10000 persons per group (-1310),
    20 faces per person (-1309). Signatures: at most three months of validity (9), single-use
    (e=0) once within 300 s (13). Codes 15, 16, 24, 107, 108 are never produced.
16. Face ids: 19-digit decimal strings, unique per service, reproducible with ``--seed``.
"""
