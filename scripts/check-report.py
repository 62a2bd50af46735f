#!/usr/bin/env python3
"""Opens ultrasim's HTML reports in a real browser (Debian's chromium, headless).

Usage: check-report.py ULTRASIM_BINARY [CHROMIUM]

Writes a training step's report (with its trace) and a sweep's report, loads
each in headless Chromium, and fails unless: the browser logs no console
message or uncaught error, the page as the browser built it holds its charts
(at least 2 SVG elements for the step, a table row a sweep point), and a
screenshot of the step's page is not blank. Exit status 0 when all hold.
"""
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib


def chromium(browser, *args):
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--enable-logging=stderr", "--v=0", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def console_messages(stderr):
    return [l for l in stderr.splitlines() if ":CONSOLE" in l or "Uncaught" in l]


def png_pixels(path):
    """The decompressed scanlines of a PNG (no library needed)."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("%s is not a PNG" % path)
    pos, idat = 8, b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + n]
        pos += 12 + n
    return zlib.decompress(idat)


def fail(msg):
    print("check-report: " + msg, file=sys.stderr)
    sys.exit(1)


def main():
    if len(sys.argv) < 2:
        fail("usage: check-report.py ULTRASIM_BINARY [CHROMIUM]")
    ultrasim = os.path.abspath(sys.argv[1])
    browser = sys.argv[2] if len(sys.argv) > 2 else (shutil.which("chromium") or "")
    if not browser:
        fail("no chromium (Debian's package 'chromium'; make test installs it)")
    work = tempfile.mkdtemp(prefix="ultrasim-report-")
    try:
        step = os.path.join(work, "step.html")
        subprocess.run([ultrasim, "train", "--model", "llama3-8b", "--hw", "dgx-h100", "--gbs",
                        "8", "--seq", "4096", "--trace", os.path.join(work, "t.json"),
                        "--report", step], check=True, capture_output=True)
        spec = os.path.join(work, "spec.json")
        json.dump({"command": "collective", "base": {"hw": "dgx-h100", "op": "allreduce"},
                   "grid": {"size": ["1MiB", "64MiB", "1GiB"]}}, open(spec, "w"))
        db = os.path.join(work, "runs.db")
        subprocess.run([ultrasim, "sweep", spec, "--db", db, "--jobs", "1"], check=True,
                       capture_output=True)
        sweep = os.path.join(work, "sweep.html")
        subprocess.run([ultrasim, "report", db, "-o", sweep], check=True, capture_output=True)

        for page, want_svg, want_rows in ((step, 2, 0), (sweep, 0, 3)):
            out = chromium(browser, "--dump-dom", "file://" + page)
            if out.returncode != 0:
                fail("%s: chromium exited %d: %s" % (page, out.returncode, out.stderr[-500:]))
            messages = console_messages(out.stderr)
            if messages:
                fail("%s: the browser logged: %s" % (page, "; ".join(messages)))
            svgs = len(re.findall(r"<svg\b", out.stdout))
            rows = max(0, len(re.findall(r"<tr>", out.stdout)) - 1)  # less the header
            if svgs < want_svg or rows < want_rows:
                fail("%s: %d charts and %d table rows in the rendered page (want %d, %d)" %
                     (page, svgs, rows, want_svg, want_rows))
        shot = os.path.join(work, "step.png")
        out = chromium(browser, "--screenshot=" + shot, "--window-size=1280,1600",
                       "file://" + step)
        if not os.path.exists(shot):
            fail("no screenshot: " + out.stderr[-500:])
        distinct = len(set(png_pixels(shot)))
        if distinct < 16:
            fail("the screenshot is blank (%d distinct byte values)" % distinct)
        print("check-report: the step's page has its charts, the sweep's its points, the "
              "screenshot %d distinct byte values, no console messages" % distinct)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
