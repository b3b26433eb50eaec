"""Exporting a session's evidence as one package a court can check offline."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from recorder.addenda import addendum_names
from recorder.join import Part, join_segments
from recorder.package import write_package
from recorder.verify import MANIFEST, PUBLIC_KEY, SIGNATURE, TIMESTAMP, EvidenceSource

README = """NotaryLink 证据包 / evidence package
======================================

会话 Session: {session_id}
案件 Case:    {case_ref}
时间 Time:    {started_at} — {ended_at} (UTC)

【中文】
本压缩包是一次远程视频公证会话的完整证据，可脱离平台独立核验：
- manifest.json：证据清单（规范 JSON），列出全部录像分段及会话事件，组成哈希链；
- manifest.sig：平台 Ed25519 私钥对 manifest.json 原始字节的签名；
- public-key.pem：平台公钥（请与公证处公布的公钥指纹核对）；
- manifest.tsr：RFC 3161 可信时间戳（如配置），证明清单在该时间已经存在；
- 各参与人目录下的 .webm/.mkv：录像分段原件，SHA-256 记录于清单；
- paper-original/：会后纸质原件的流转记录（已寄出、已收到），每一步由平台签名并链接到清单；
- playback/：为便于观看而将分段无损拼接的文件（不重新编码），不是证据本身。
核验：notarylink verify 本文件.zip --key 公证处公钥.pem --tsa-root 时间戳机构根证书.pem
也可手工核验：对每个分段计算 SHA-256 与清单比对；用公钥验证签名；用 openssl ts -verify 验证时间戳。

[English]
This archive holds the complete evidence of one remote video notarization session and can be
checked without the platform:
- manifest.json: the manifest (canonical JSON) listing every recorded segment and session event
  as a hash chain;
- manifest.sig: the platform's Ed25519 signature of manifest.json's exact bytes;
- public-key.pem: the platform's public key (compare its fingerprint with the one the office
  publishes);
- manifest.tsr: an RFC 3161 timestamp (when configured) proving the manifest existed then;
- the .webm/.mkv files in each participant's folder: the recorded segments as captured, their
  SHA-256 listed in the manifest;
- paper-original/: what became of the hand-signed paper original after the session (posted,
  received), each step signed by the platform and linked to the manifest;
- playback/: each participant's segments joined without re-encoding, for viewing; not the
  evidence itself.
Verify: notarylink verify THIS.zip --key office-key.pem --tsa-root tsa-root.pem
By hand: hash each segment with SHA-256 and compare with the manifest; check the signature with
the public key; check the timestamp with openssl ts -verify.
"""


def export_session(
    source: EvidenceSource,
    out: Path,
    progress: Callable[[str, int, int], None] | None = None,
) -> Path:
    raw = source.read(MANIFEST)
    if raw is None:
        raise LookupError("this session has no sealed manifest yet")
    manifest = json.loads(raw)
    files: list[tuple[str, bytes | Path]] = [(MANIFEST, raw)]
    for name in (SIGNATURE, TIMESTAMP, PUBLIC_KEY, *addendum_names(source.names())):
        data = source.read(name)
        if data is not None:
            files.append((name, data))
    segments = [e["body"] for e in manifest["entries"] if e["kind"] == "segment"]
    with tempfile.TemporaryDirectory(prefix="notarylink-export-") as work:
        workdir = Path(work)
        parts: dict[str, list[Part]] = {}
        for index, segment in enumerate(segments):
            name = str(segment["file"])
            data = source.read(name)
            if data is None:
                continue  # the verifier names what is missing; export what exists
            local = workdir / name.replace("/", "__")
            local.write_bytes(data)
            files.append((name, local))
            sidecar = source.read(name.rsplit(".", 1)[0] + ".json")
            if sidecar is not None:
                files.append((name.rsplit(".", 1)[0] + ".json", sidecar))
            start = _seconds(str(segment["start"]))
            parts.setdefault(str(segment["participant"]), []).append(Part(local, start))
            if progress is not None:
                progress("fetch", index + 1, len(segments))
        for number, (participant, mine) in enumerate(sorted(parts.items())):
            suffix = ".mkv" if any(p.path.name.endswith(".mkv") for p in mine) else ".webm"
            joined = workdir / f"playback-{participant}{suffix}"
            join_segments(sorted(mine, key=lambda p: p.start_time), joined)
            files.append((f"playback/{participant}{suffix}", joined))
            if progress is not None:
                progress("join", number + 1, len(parts))
        session = manifest["session"]
        readme = README.format(
            session_id=session["id"],
            case_ref=session["case_ref"],
            started_at=session["started_at"],
            ended_at=session["ended_at"],
        )
        files.append(("README.txt", readme.encode("utf-8")))
        write_package(out, files)
    return out


def _seconds(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
