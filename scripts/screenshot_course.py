"""Renders the executed course's start page and notebooks in headless Chromium.

For a maintainer who wants to see what a learner sees, after a course run
(`python3 tasks.py course`, which writes build/course/):

    python3 scripts/screenshot_course.py                 # index.html only
    python3 scripts/screenshot_course.py --notebooks 07  # and notebook 07's page

Each page is saved as a PNG next to it (`index.png`, `07_gans.png`). Needs a
headless Chromium: on Debian or Ubuntu `apt-get install chromium-headless-shell`
(or `chromium`). Standard library only; no network is used (the pages are
local files with their figures inline).
"""

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BROWSERS = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome")


def find_browser():
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def screenshot(browser, page, target, width=1200, height=2400, timeout=120):
    """Saves a PNG of the local HTML file `page` to `target`."""
    command = [
        browser, "--headless", "--no-sandbox", "--disable-gpu",
        "--hide-scrollbars", f"--window-size={width},{height}",
        f"--screenshot={target}", page.resolve().as_uri(),
    ]  # fmt: skip
    subprocess.run(command, check=True, timeout=timeout, capture_output=True)
    return target


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build_dir", nargs="?", default=str(ROOT / "build/course"))
    parser.add_argument(
        "--notebooks", nargs="*", default=[], help="also these notebooks' pages"
    )
    parser.add_argument("--height", type=int, default=2400, help="pixels")
    args = parser.parse_args(argv)
    build = Path(args.build_dir)
    browser = find_browser()
    if browser is None:
        print(
            "error: no headless Chromium found; install chromium-headless-shell",
            file=sys.stderr,
        )
        return 1
    pages = [build / "index.html"]
    for pattern in args.notebooks:
        pages += sorted(build.glob(f"*{pattern}*.html"))
    for page in pages:
        if not page.is_file():
            print(f"error: no {page}; run the course first", file=sys.stderr)
            return 1
        target = screenshot(browser, page, page.with_suffix(".png"), height=args.height)
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
