"""The HTML report (`betapool plot LOG -o run.html`) of a real run renders
in a real browser: Debian's headless chromium takes a screenshot, and the
picture holds the drawing (its series' colours, most of the page not
background), where a blank page holds none. The PNG is read with zlib and
struct."""
import collections
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
import zlib

import common

BETAPOOL = os.path.join(common.ROOT, "scripts", "betapool")
WORK = """
import threading, time
def work():
    for _ in range(5):
        time.sleep(0.02)
    end = time.monotonic() + 0.5
    while time.monotonic() < end:
        pass
ts = [threading.Thread(target=work) for _ in range(6)]
for t in ts: t.start()
for t in ts: t.join()
"""
# Colours the report draws its series in (scripts' SERIES): K and beta_io.
K_BLUE = (0x1f, 0x5f, 0xa8)
BETA_IO_RED = (0xc6, 0x28, 0x28)


def read_png(path):
    """(width, height, rows of (r, g, b) tuples) of an 8-bit RGB or RGBA PNG."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, width = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or colour not in (2, 6) or interlace:
                raise ValueError(f"unsupported PNG: depth {depth}, colour type {colour}")
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        i = y * (stride + 1)
        ftype, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if ftype == 1:
                line[x] = (line[x] + a) & 0xFF
            elif ftype == 2:
                line[x] = (line[x] + b) & 0xFF
            elif ftype == 3:
                line[x] = (line[x] + ((a + b) >> 1)) & 0xFF
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pred) & 0xFF
        rows.append([tuple(line[x:x + 3]) for x in range(0, stride, bpp)])
        prev = line
    return width, height, rows


def near(p, colour, tol=40):
    return all(abs(a - b) <= tol for a, b in zip(p, colour))


def chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path, None
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None, "chromium is not installed (Debian: apt-get install chromium)"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cp = subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], env=env,
                        capture_output=True, text=True, timeout=900)
    path = shutil.which("chromium")
    if cp.returncode != 0 or not path:
        return None, "apt-get install chromium failed: " + cp.stderr[-300:]
    return path, None


class BrowserTest(common.ShimTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.browser, why = chromium()
        if cls.browser is None:
            raise unittest.SkipTest(why)
        cls.dir = tempfile.mkdtemp(prefix="betapool-browser-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def screenshot(self, url, name):
        out = os.path.join(self.dir, name)
        profile = tempfile.mkdtemp(dir=self.dir)
        cp = subprocess.run([self.browser, "--headless", "--no-sandbox", "--disable-gpu",
                             "--hide-scrollbars", "--no-first-run", f"--user-data-dir={profile}",
                             "--window-size=1000,900", f"--screenshot={out}", url],
                            capture_output=True, text=True, timeout=180)
        self.assertEqual(cp.returncode, 0, cp.stderr[-2000:])
        self.assertTrue(os.path.exists(out), cp.stderr[-2000:])
        return read_png(out)

    def test_report_renders(self):
        log = os.path.join(self.dir, "run.jsonl")
        cp = subprocess.run([sys.executable, BETAPOOL, "run", "--mode", "auto", "--lib",
                             common.LIB, "--log", log, "--", sys.executable, "-c", WORK],
                            env=common.shim_env(preload=False), capture_output=True, text=True,
                            timeout=120)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        page = os.path.join(self.dir, "run.html")
        cp = subprocess.run([sys.executable, BETAPOOL, "plot", log, "-o", page],
                            capture_output=True, text=True, timeout=60)
        self.assertEqual(cp.returncode, 0, cp.stderr)

        # A blank page first: what "nothing drawn" looks like to this count.
        blank = os.path.join(self.dir, "blank.html")
        with open(blank, "w") as f:
            f.write("<!DOCTYPE html><html><body></body></html>\n")
        w, h, rows = self.screenshot("file://" + blank, "blank.png")
        self.assertEqual((w, h), (1000, 900))
        self.assertEqual(sum(1 for r in rows for p in r if p != (255, 255, 255)), 0)

        w, h, rows = self.screenshot("file://" + page, "run.png")
        self.assertEqual((w, h), (1000, 900))
        pixels = [p for r in rows for p in r]
        background = collections.Counter(pixels).most_common(1)[0][0]
        drawn = sum(1 for p in pixels if p != background)
        # the panels (#fafafa on white), their grid, lines and text
        self.assertGreater(drawn / len(pixels), 0.2, f"only {drawn} pixels drawn")
        blue = sum(1 for p in pixels if near(p, K_BLUE))
        red = sum(1 for p in pixels if near(p, BETA_IO_RED))
        self.assertGreater(blue, 100, "the K line is not on the screen")
        self.assertGreater(red, 100, "the beta_io line is not on the screen")
        # dark text: the title and the axes' labels
        dark = sum(1 for p in pixels if max(p) < 80)
        self.assertGreater(dark, 1000)


if __name__ == "__main__":
    unittest.main()
