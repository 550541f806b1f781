"""Documents: notes (one body, in blocks) and SharePoint (simple upload, upload sessions),
documents/s and MB/s over loopback HTTP with latency.

    .venv/bin/python bench/documents.py [--small 1000] [--large 10] [--large-mb 25-60]
        [--latency-ms 20] [--concurrency 4] [--sqlite] [--quick] [--json FILE]

Generates its files in a temporary folder (deterministic random bytes behind a PDF, PNG or
DOCX signature, written piece by piece): ``--small`` files of 10–200 KB and ``--large``
files spread evenly over ``--large-mb`` (MB = 10^6 bytes throughout). Starts
``crm-ferry emulator serve --latency-ms N`` in a child process (the latency applies to
Dataverse and Microsoft Graph alike; Microsoft's default service-protection limits; in
memory unless ``--sqlite``), signs in once before any clock starts, raises the tenant's
``maxuploadfilesize`` to 131,072,000, makes 100 contacts and their SharePoint folders (a
library per table, a folder per record, as the Dynamics 365 integration keeps them), then
times, each on its own clock, with crm-ferry's own clients:

1. small files as notes the way the engine writes them: ``write_many("annotation", …)``
   (UpsertMultiple in requests of at most 500 rows and 4 MB), Base64 bodies built in the
   timed part; and, as the baseline of the same files, one ``POST annotations`` each;
2. large files as notes in blocks (``upload_note_document``: 4 MB blocks);
3. small files to SharePoint (``SharePointClient.upload``: one PUT each);
4. large files to SharePoint (upload sessions in 10 MiB fragments);

documents going ``--concurrency`` at a time (the engine's ``DOCUMENTS_IN_FLIGHT``; the
bulk write keeps the client's own adaptive window). Then every document is read back once
(timed apart) and its size and SHA-256 compared; any difference fails the run.

Per path: documents/s, MB/s, requests and body bytes on the wire (both ways), the
emulator's CPU seconds (from /proc) and this process's; ``latency share`` is the time the
requests would spend in simulated latency with ``concurrency`` of them always in flight,
over the elapsed time (near 1: latency bounds the path; small: bytes and CPU do). Not a
test: run it by hand and record the figures in bench/RESULTS.md ("Documents").
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from crm_ferry.dataverse import ClientOptions, DataverseClient, MsalCredential, write_many
from crm_ferry.dataverse.files import upload_note_document
from crm_ferry.errors import FerryError
from crm_ferry.load.documents import DOCUMENTS_IN_FLIGHT
from crm_ferry.reconcile.documents import Document, read_document
from crm_ferry.sharepoint import GRAPH_SCOPE, Drive, DriveItem, SharePointClient
from machine import machine

MB = 1_000_000
KB = 1_000
PIECE = 1 << 20
"""Bytes generated, written and read at a time."""
CLIENTS = 100
"""Contacts the notes are about, and SharePoint folders the files go in (at most)."""
UPLOAD_LIMIT = 131_072_000
"""The tenant's ``maxuploadfilesize`` for the run (the largest Dataverse allows)."""
NAMESPACE = uuid.UUID("0b6c3f3e-5a7d-4c1e-9d2f-6e8a4b1c7d90")
KINDS = (
    ("pdf", "application/pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"),
    ("png", "image/png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
    (
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        b"PK\x03\x04\x14\x00\x06\x00",
    ),
)
"""Extension, MIME type and leading bytes of each kind of file, taken in turn."""


# ---------------------------------------------------------------------------------------
# Files


@dataclass(frozen=True, slots=True)
class Doc:
    """A generated file: where it is, its size and SHA-256, and whose it is."""

    name: str
    path: Path
    size: int
    sha256: str
    mimetype: str
    client: int
    """The contact (and SharePoint folder) the document belongs to."""


def write_file(path: Path, size: int, seed: str, header: bytes) -> str:
    """``size`` deterministic random bytes (``header`` first) written piece by piece; the
    SHA-256 of what was written."""
    rng = random.Random(seed)
    digest = hashlib.sha256()
    with open(path, "wb") as out:
        left = size
        first = True
        while left > 0:
            piece = rng.randbytes(min(left, PIECE))
            if first:
                piece = (header + piece[len(header) :])[: len(piece)]
                first = False
            out.write(piece)
            digest.update(piece)
            left -= len(piece)
    return digest.hexdigest()


def make_files(
    folder: Path, *, small: int, large: int, large_mb: tuple[int, int], seed: int, clients: int
) -> tuple[list[Doc], list[Doc]]:
    """``small`` files of 10–200 KB and ``large`` ones spread evenly over ``large_mb``, the
    ``i``-th of each kind belonging to client ``i % clients``."""
    rng = random.Random(seed)
    small_sizes = [rng.randint(10 * KB, 200 * KB) for _ in range(small)]
    low, high = large_mb
    step = (high - low) / (large - 1) if large > 1 else 0.0
    large_sizes = [round((low + step * i) * MB) for i in range(large)]

    def one(tag: str, i: int, size: int) -> Doc:
        ext, mime, header = KINDS[i % len(KINDS)]
        path = folder / f"{tag}-{i:04d}.{ext}"
        digest = write_file(path, size, f"{seed}/{tag}/{i}", header)
        return Doc(path.name, path, size, digest, mime, i % clients)

    return (
        [one("small", i, n) for i, n in enumerate(small_sizes)],
        [one("large", i, n) for i, n in enumerate(large_sizes)],
    )


def chunks_of(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as source:
        while piece := source.read(PIECE):
            yield piece


# ---------------------------------------------------------------------------------------
# The emulator and the clients


def start_emulator(latency_ms: float, data: Path | None) -> tuple[subprocess.Popen[str], Any]:
    args = [sys.executable, "-m", "crm_ferry", "emulator", "serve", "--json"]
    args += ["--latency-ms", str(latency_ms)]
    if data is not None:
        args += ["--data", str(data)]
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait(30)
        raise SystemExit(f"the emulator did not start (exit code {proc.returncode})")
    return proc, json.loads(line)


def peak_rss_mb(pid: int) -> float | None:
    """The peak resident memory of process ``pid`` (``VmHWM``), or None off Linux."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / MB
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` (every thread), or None off Linux."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Counting(httpx.BaseTransport):
    """An HTTP transport that counts the requests it sends, the body bytes both ways (by
    ``Content-Length``) and the 429 answers."""

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport(limits=httpx.Limits(max_connections=64))
        self._lock = threading.Lock()
        self.requests = 0
        self.bytes = 0
        self.throttled = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        size = int(request.headers.get("content-length") or 0)
        size += int(response.headers.get("content-length") or 0)
        with self._lock:
            self.requests += 1
            self.bytes += size
            self.throttled += response.status_code == 429
        return response

    def close(self) -> None:
        self._inner.close()


@dataclass(slots=True)
class Tenant:
    """The clients of one served emulator, and what the run made in it."""

    dataverse: DataverseClient
    sharepoint: SharePointClient
    wire: Counting
    emulator_pid: int
    latency_ms: float
    drive: Drive | None = None
    folders: dict[int, DriveItem] = field(default_factory=dict)
    contacts: list[str] = field(default_factory=list)


def connect(info: Any, pid: int, latency_ms: float) -> Tenant:
    wire = Counting()
    client = info["clients"][0]
    credential = MsalCredential.client_secret(
        environment_url=info["url"],
        client_id=client["client_id"],
        secret=client["client_secret"],
        tenant=info["tenant"],
        authority=info["url"],
    )
    dataverse = DataverseClient(
        info["url"], credential, transport=wire, options=ClientOptions(timeout=300)
    )
    graph = credential.with_scope(GRAPH_SCOPE)
    graph.token()  # signed in before any clock starts, as a loader is
    sharepoint = SharePointClient(graph, graph_url=info["graph_url"], transport=wire)
    return Tenant(dataverse, sharepoint, wire, pid, latency_ms)


def prepare(tenant: Tenant, site_url: str, clients: int, concurrency: int) -> dict[str, float]:
    """The upload limit raised, the contacts made, the library and a folder per contact;
    how long the folders took (one ``ensure_folder`` each, ``concurrency`` at a time)."""
    dv = tenant.dataverse
    org = dv.who_am_i().organization_id
    dv.update("organization", org, {"maxuploadfilesize": UPLOAD_LIMIT})
    rows = [
        {
            "contactid": str(uuid.uuid5(NAMESPACE, f"contact/{i}")),
            "firstname": f"Client{i:03d}",
            "lastname": "Documents",
        }
        for i in range(clients)
    ]
    report = write_many([dv], "contact", rows)
    if report.rejected:
        raise SystemExit(f"contacts not written: {report.rejected[0].error}")
    tenant.contacts = [r["contactid"] for r in rows]
    dv.metadata.table("annotation")  # read once per run by the engine too: not timed
    sp = tenant.sharepoint
    site = sp.site(site_url)
    tenant.drive, _ = sp.ensure_library(site, "contact")
    drive = tenant.drive

    def folder(i: int) -> DriveItem:
        return sp.ensure_folder(drive, f"Client{i:03d} Documents_{contact_hex[i]}")

    contact_hex = [c.replace("-", "").upper() for c in tenant.contacts]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        tenant.folders = dict(enumerate(pool.map(folder, range(clients))))
    seconds = time.perf_counter() - started
    return {"folders": clients, "seconds": seconds, "per_s": clients / seconds}


def note_id(tag: str, doc: Doc) -> str:
    return str(uuid.uuid5(NAMESPACE, f"note/{tag}/{doc.name}"))


def note(tenant: Tenant, tag: str, doc: Doc) -> dict[str, Any]:
    """A note's columns as the transform writes them (no ``documentbody``)."""
    return {
        "annotationid": note_id(tag, doc),
        "subject": doc.name,
        "filename": doc.name,
        "mimetype": doc.mimetype,
        "isdocument": True,
        "objectid_contact@odata.bind": f"/contacts({tenant.contacts[doc.client]})",
    }


# ---------------------------------------------------------------------------------------
# Measuring

Work = Callable[[Doc], str | None]
"""What a path does with one document: None when it went well, else what went wrong."""


def each(concurrency: int, docs: Sequence[Doc], work: Work) -> list[str]:
    """``work`` on every document, ``concurrency`` at a time; what went wrong, each line
    naming its file (a crm-ferry error, an unreadable file or a wrong answer)."""

    def guarded(doc: Doc) -> str | None:
        try:
            problem = work(doc)
        except (FerryError, OSError, ValueError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
        return None if problem is None else f"{doc.name}: {problem}"

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="document") as pool:
        return [p for p in pool.map(guarded, docs) if p is not None]


@dataclass(slots=True)
class Measure:
    """One path's figures, and the documents it could not move or match."""

    path: str
    documents: int
    bytes: int
    seconds: float
    requests: int
    wire_bytes: int
    emulator_cpu: float | None
    client_cpu: float
    concurrency: int
    latency_ms: float
    throttled: int
    failed: list[str]

    def as_dict(self) -> dict[str, Any]:
        waiting = self.requests * self.latency_ms / 1000 / self.concurrency
        cpu = self.emulator_cpu
        return {
            "path": self.path,
            "documents": self.documents,
            "ok": self.documents - len(self.failed),
            "failed": self.failed,
            "MB": self.bytes / MB,
            "seconds": self.seconds,
            "documents_per_s": self.documents / self.seconds,
            "MB_per_s": self.bytes / MB / self.seconds,
            "requests": self.requests,
            "wire_MB": self.wire_bytes / MB,
            "emulator_cpu_s": cpu,
            "emulator_cores": None if cpu is None else cpu / self.seconds,
            "client_cpu_s": self.client_cpu,
            "latency_share": waiting / self.seconds,
            "concurrency": self.concurrency,
            "throttled": self.throttled,
        }


def timed(
    tenant: Tenant, path: str, docs: Sequence[Doc], concurrency: int, run: Callable[[], list[str]]
) -> Measure:
    """``run`` on its own clock, with the requests, bytes and CPU it cost."""
    wire, pid = tenant.wire, tenant.emulator_pid
    requests, sent, throttled = wire.requests, wire.bytes, wire.throttled
    emulator, client = cpu_seconds(pid), time.process_time()
    started = time.perf_counter()
    failed = run()
    seconds = time.perf_counter() - started
    after = cpu_seconds(pid)
    return Measure(
        path=path,
        documents=len(docs),
        bytes=sum(d.size for d in docs),
        seconds=seconds,
        requests=wire.requests - requests,
        wire_bytes=wire.bytes - sent,
        emulator_cpu=None if emulator is None or after is None else after - emulator,
        client_cpu=time.process_time() - client,
        concurrency=concurrency,
        latency_ms=tenant.latency_ms,
        throttled=wire.throttled - throttled,
        failed=failed,
    )


# ---------------------------------------------------------------------------------------
# The paths


def body_of(doc: Doc) -> str:
    return base64.b64encode(doc.path.read_bytes()).decode("ascii")


def small_notes_bulk(tenant: Tenant, docs: Sequence[Doc]) -> list[str]:
    """As the engine: the Base64 bodies in the payloads, ``write_many`` (UpsertMultiple)."""
    rows = [{**note(tenant, "bulk", d), "documentbody": body_of(d)} for d in docs]
    report = write_many([tenant.dataverse], "annotation", rows)
    return [
        f"{docs[r.index].name}: not written: {r.error or 'no answer (unsettled)'}"
        for r in report.rejected
    ]


def small_notes_single(tenant: Tenant, docs: Sequence[Doc], concurrency: int) -> list[str]:
    def one(d: Doc) -> None:
        tenant.dataverse.create(
            "annotation", {**note(tenant, "single", d), "documentbody": body_of(d)}
        )

    return each(concurrency, docs, one)


def large_notes(tenant: Tenant, docs: Sequence[Doc], concurrency: int) -> list[str]:
    def one(d: Doc) -> str | None:
        sent = upload_note_document(tenant.dataverse, note(tenant, "blocks", d), chunks_of(d.path))
        if sent.sha256 != d.sha256 or sent.size != d.size:
            return f"sent {sent.size} bytes SHA-256 {sent.sha256}, the file has {d.size}"
        return None

    return each(concurrency, docs, one)


def to_sharepoint(
    tenant: Tenant, docs: Sequence[Doc], concurrency: int, items: dict[str, DriveItem]
) -> list[str]:
    """Each file into its client's folder (one PUT below 4 MiB, else an upload session)."""
    drive = tenant.drive
    assert drive is not None

    def one(d: Doc) -> None:
        folder = tenant.folders[d.client]
        items[d.name] = tenant.sharepoint.upload(drive, folder, d.name, d.path, d.size)

    return each(concurrency, docs, one)


def read_notes(tenant: Tenant, tag: str, docs: Sequence[Doc], concurrency: int) -> list[str]:
    """Each note's document downloaded in blocks and compared (size and SHA-256)."""

    def one(d: Doc) -> str | None:
        held = read_document(tenant.dataverse, note_id(tag, d))
        if held == Document(d.size, d.sha256):
            return None
        shown = held.shown() if held is not None else "no document"
        return f"the note holds {shown}, the file is {Document(d.size, d.sha256).shown()}"

    return each(concurrency, docs, one)


def read_files(
    tenant: Tenant, docs: Sequence[Doc], concurrency: int, items: dict[str, DriveItem]
) -> list[str]:
    """Each SharePoint file downloaded and compared (size and SHA-256)."""

    def one(d: Doc) -> str | None:
        item = items.get(d.name)
        if item is None:
            return "not read back: its upload failed"
        digest = tenant.sharepoint.sha256(item)
        if item.size == d.size and digest == d.sha256:
            return None
        return f"SharePoint holds {item.size} bytes SHA-256 {digest[:16]}, the file is {d.size}"

    return each(concurrency, docs, one)


def run_paths(
    tenant: Tenant, small: list[Doc], large: list[Doc], concurrency: int
) -> tuple[list[Measure], list[Measure]]:
    """The timed uploads, then the timed read-backs (each document compared)."""
    small_items: dict[str, DriveItem] = {}
    large_items: dict[str, DriveItem] = {}
    c = concurrency
    window = tenant.dataverse.options.initial_concurrency  # write_many's own, before dop hints
    write = [
        timed(tenant, "small notes, UpsertMultiple (engine)", small, window,
              lambda: small_notes_bulk(tenant, small)),
        timed(tenant, "small notes, one POST each", small, c,
              lambda: small_notes_single(tenant, small, c)),
        timed(tenant, "large notes, blocks", large, c, lambda: large_notes(tenant, large, c)),
        timed(tenant, "small files, SharePoint simple upload", small, c,
              lambda: to_sharepoint(tenant, small, c, small_items)),
        timed(tenant, "large files, SharePoint upload session", large, c,
              lambda: to_sharepoint(tenant, large, c, large_items)),
    ]  # fmt: skip
    read = [
        timed(tenant, "read small notes (blocks of 4 MB)", small, c,
              lambda: read_notes(tenant, "bulk", small, c)),
        timed(tenant, "read large notes (blocks of 4 MB)", large, c,
              lambda: read_notes(tenant, "blocks", large, c)),
        timed(tenant, "read small files, SharePoint", small, c,
              lambda: read_files(tenant, small, c, small_items)),
        timed(tenant, "read large files, SharePoint", large, c,
              lambda: read_files(tenant, large, c, large_items)),
    ]  # fmt: skip
    return write, read


# ---------------------------------------------------------------------------------------
# Reporting


def ratios(write: list[dict[str, Any]]) -> dict[str, float]:
    bulk, single, blocks, simple, session = write
    return {
        "bulk_vs_single_documents_per_s": bulk["documents_per_s"] / single["documents_per_s"],
        "blocks_vs_one_body_MB_per_s": blocks["MB_per_s"] / bulk["MB_per_s"],
        "blocks_vs_single_post_MB_per_s": blocks["MB_per_s"] / single["MB_per_s"],
        "session_vs_simple_MB_per_s": session["MB_per_s"] / simple["MB_per_s"],
        "sharepoint_vs_notes_small_MB_per_s": simple["MB_per_s"] / bulk["MB_per_s"],
        "sharepoint_vs_notes_large_MB_per_s": session["MB_per_s"] / blocks["MB_per_s"],
    }


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| path | docs | ok | MB | s | docs/s | MB/s | requests | wire MB | emulator CPU s "
        "| client CPU s | latency share |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        cpu = "–" if r["emulator_cpu_s"] is None else f"{r['emulator_cpu_s']:.2f}"
        lines.append(
            f"| {r['path']} | {r['documents']:,} | {r['ok']:,} | {r['MB']:,.1f} | "
            f"{r['seconds']:.2f} | {r['documents_per_s']:,.1f} | {r['MB_per_s']:,.1f} | "
            f"{r['requests']:,} | {r['wire_MB']:,.1f} | {cpu} | {r['client_cpu_s']:.2f} | "
            f"{r['latency_share']:.2f} |"
        )
    return "\n".join(lines)


def parse_range(text: str) -> tuple[int, int]:
    low, sep, high = text.partition("-")
    try:
        pair = (int(low), int(high) if sep else int(low))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected MB or MIN-MAX, e.g. 25-60") from None
    if not 0 < pair[0] <= pair[1]:
        raise argparse.ArgumentTypeError(f"{text!r}: sizes must be positive, MIN ≤ MAX")
    return pair


def options(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--small", type=int, default=1000, help="files of 10–200 KB")
    parser.add_argument("--large", type=int, default=10, help="large files")
    parser.add_argument("--large-mb", type=parse_range, default=(25, 60), help="MIN-MAX MB")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="per request")
    parser.add_argument("--concurrency", type=int, default=DOCUMENTS_IN_FLIGHT)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sqlite", action="store_true", help="the emulator stores on disk")
    parser.add_argument("--quick", action="store_true", help="20 small, 2 large of 5-12 MB")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    opts = parser.parse_args(argv)
    if opts.quick:
        opts.small, opts.large, opts.large_mb = 20, 2, (5, 12)
    if opts.small < 1 or opts.large < 1 or opts.concurrency < 1:
        parser.error("--small, --large and --concurrency must be at least 1")
    return opts


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 when every document went and came back as it was, else 1."""
    opts = options(argv)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="docbench-") as tmp:
        folder = Path(tmp) / "files"
        folder.mkdir()
        started = time.perf_counter()
        clients = min(CLIENTS, opts.small)
        small, large = make_files(
            folder,
            small=opts.small,
            large=opts.large,
            large_mb=opts.large_mb,
            seed=opts.seed,
            clients=clients,
        )
        generated = time.perf_counter() - started
        proc, info = start_emulator(opts.latency_ms, Path(tmp) / "data" if opts.sqlite else None)
        try:
            tenant = connect(info, proc.pid, opts.latency_ms)
            try:
                site = info["sharepoint_sites"][0]
                folders = prepare(tenant, site, clients, opts.concurrency)
                write, read = run_paths(tenant, small, large, opts.concurrency)
                emulator_rss = peak_rss_mb(proc.pid)
            finally:
                tenant.dataverse.close()
                tenant.sharepoint.close()
                tenant.wire.close()
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    written = [m.as_dict() for m in write]
    result = {
        "machine": machine(),
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "latency_ms": opts.latency_ms,
        "concurrency": opts.concurrency,
        "storage": "SQLite" if opts.sqlite else "in memory",
        "files": {
            "small": len(small),
            "small_MB": sum(d.size for d in small) / MB,
            "large": len(large),
            "large_MB": sum(d.size for d in large) / MB,
            "generated_s": generated,
        },
        "folders": folders,
        "peak_rss_MB": {
            "emulator": emulator_rss,
            "bench": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MB,
        },
        "write": written,
        "read": [m.as_dict() for m in read],
        "ratios": ratios(written),
    }
    if opts.json is not None:
        opts.json.write_text(json.dumps(result, indent=2))
    return report(result)


def report(result: dict[str, Any]) -> int:
    """The figures on stdout; every document that did not go or come back as it was, and
    the exit code (1 when there is one)."""
    m = result["machine"]
    load = result["load_average"]
    print(f"machine: {m['nproc']} CPUs, {m['cpu']}, Python {m['python']}")
    print(f"load average before {load['before'][0]:.2f}, after {load['after'][0]:.2f}")
    print(
        f"latency {result['latency_ms']} ms per request (Dataverse and Graph), "
        f"{result['concurrency']} documents in flight, emulator {result['storage']}"
    )
    f = result["folders"]
    print(f"SharePoint folders (not timed with the paths): {f['folders']} in {f['seconds']:.2f} s")
    rss = result["peak_rss_MB"]
    shown = "–" if rss["emulator"] is None else f"{rss['emulator']:,.0f} MB"
    print(f"peak RSS: emulator {shown}, this process {rss['bench']:,.0f} MB")
    print(table(result["write"]))
    print(table(result["read"]))
    print(json.dumps(result["ratios"], indent=2))
    rows = result["write"] + result["read"]
    failed = [line for r in rows for line in r["failed"]]
    for r in rows:
        n, ok, bad = r["documents"], r["ok"], len(r["failed"])
        print(f"{r['path']}: {n:,} documents = {ok:,} ok + {bad:,} failed")
    if failed:
        for line in failed[:20]:
            print(f"  {line}", file=sys.stderr)
        more = f" (the first 20 above; {len(failed) - 20:,} more)" if len(failed) > 20 else ""
        print(
            f"{len(failed):,} documents failed{more}: the figures above do not count",
            file=sys.stderr,
        )
        return 1
    print("every document was written, read back and matched its size and SHA-256")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
