"""The dispatch table: v1 op -> handler."""

from __future__ import annotations

from collections.abc import Mapping

from proxy.handlers import faces, groups, person, recognition
from proxy.handlers.boundary import Handler

OP_HANDLERS: Mapping[str, Handler] = {
    "newperson": person.newperson,
    "delperson": person.delperson,
    "setinfo": person.setinfo,
    "getinfo": person.getinfo,
    "getfaceids": person.getfaceids,
    "addface": faces.addface,
    "delface": faces.delface,
    "getfaceinfo": faces.getfaceinfo,
    "getgroupids": groups.getgroupids,
    "getpersonids": groups.getpersonids,
    "verify": recognition.verify,
    "identify": recognition.identify,
    "compare": recognition.compare,
}
