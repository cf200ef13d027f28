"""The physical limit of a download: the fewest STORE DATA APDUs that can carry it.

A BPP is cut into segments as SGP22-DIGEST.md §4.2 says (each its own STORE DATA sequence); a
segment of L bytes needs ceil(L / S) blocks of at most S bytes (S = 255 at most, short Lc). Every
other ES10 command of the download needs ceil(L / S) blocks too: the issue counts one APDU for
each, which only holds for commands under S bytes (AuthenticateServer and PrepareDownload carry
certificates and are several blocks long), so both figures are reported."""

from __future__ import annotations

import hashlib
import math

from esimtest import der

from .qmitap import BPP_TAGS


def bpp_segments(bpp: bytes) -> list[bytes]:
    """The segments of a Bound Profile Package, in order, as slices of the received bytes."""
    top = der.decode(bpp)
    if top.tag != 0xBF36:
        raise ValueError("not a BoundProfilePackage (tag %X)" % top.tag)
    children = top.children()
    if not children or children[0].tag != 0xBF23:
        raise ValueError("the BPP does not start with InitialiseSecureChannel (BF23)")
    segments = [top.header + children[0].raw]
    for c in children[1:]:
        if c.tag in (0xA0, 0xA2):  # the whole container with its one 87
            segments.append(c.raw)
        elif c.tag in (0xA1, 0xA3):  # the header alone, then each 88 / 86
            segments.append(c.header)
            segments.extend(x.raw for x in c.children())
        else:
            raise ValueError("unexpected tag %X in the BPP" % c.tag)
    return segments


def blocks(length: int, size: int) -> int:
    return max(1, math.ceil(length / size))


def split_download(commands: list[dict]) -> tuple[list[dict], list[dict]]:
    """(the download's commands up to the one answered with the ProfileInstallationResult, the
    rest: the cache read-back). The PIR is the first BPP segment answered with data."""
    for i, c in enumerate(commands):
        if c["ok"] and c["tag"] in BPP_TAGS and c["response_len"] > 2:
            return commands[: i + 1], commands[i + 1 :]
    return commands, []


def analyse(commands: list[dict], bpp: bytes, size: int = 255) -> dict:
    """APDUs esimd spent on one download against the floor at STORE DATA size `size`."""
    segments = bpp_segments(bpp)
    sent_bpp = [c for c in commands if c["ok"] and c["tag"] in BPP_TAGS]
    others = [c for c in commands if c["ok"] and c["tag"] not in BPP_TAGS]
    refused = [c for c in commands if not c["ok"]]
    expected = [(len(s), hashlib.sha256(s).hexdigest()) for s in segments]
    got = [(c["length"], c.get("sha256")) for c in sent_bpp]
    floor_bpp = sum(blocks(len(s), size) for s in segments)
    floor_other = sum(blocks(c["length"], size) for c in others)
    apdus = sum(c["apdus"] for c in commands)
    floor = floor_bpp + floor_other
    by_tag: dict = {}
    for c in others:
        name = "%X" % c["tag"] if c["tag"] is not None else "?"
        entry = by_tag.setdefault(name, {"commands": 0, "bytes": 0, "apdus": 0, "floor": 0})
        entry["commands"] += 1
        entry["bytes"] += c["length"]
        entry["apdus"] += c["apdus"]
        entry["floor"] += blocks(c["length"], size)
    return {
        "segment_size": size,
        "bpp_bytes": len(bpp),
        "bpp_segments": len(segments),
        "segments_match_bpp": expected == got,
        "apdus": apdus,
        "apdus_bpp": sum(c["apdus"] for c in sent_bpp),
        "apdus_other": sum(c["apdus"] for c in others),
        "apdus_refused": sum(c["apdus"] for c in refused),
        "refused_commands": [{"tag": "%X" % c["tag"] if c["tag"] else "?", "sw": c["sw"], "apdus": c["apdus"]}
                             for c in refused],
        "floor_bpp": floor_bpp,
        "floor_other": floor_other,
        "floor": floor,
        "floor_issue_formula": floor_bpp + len(others),
        "ratio": apdus / floor,
        "ratio_bpp": sum(c["apdus"] for c in sent_bpp) / floor_bpp,
        "bytes_to_euicc": sum(c["apdu_bytes"] for c in commands),
        "payload_bytes": sum(c["length"] for c in commands if c["ok"]),
        "other_commands": by_tag,
        "max_block": max((c["max_block"] for c in commands), default=0),
    }
