"""Build the Zhishiyun bundle for this platform, smoke-test it, and build the installer.

    python installer/build.py            bundle + smoke test + installer for this platform
                                         (Windows: NSIS .exe, macOS: .pkg, Linux: bundle only)
    python installer/build.py --ci       Linux CI: bundle + smoke test + makensis against a
                                         small stub payload (the real Windows payload is built
                                         on a Windows runner; PyInstaller cannot cross-build)
    python installer/build.py --nsis-only   only compile the NSIS script (stub payload)

Prints the bundle size and build time, and a final JSON line with the numbers.
Exit code 0 when every step passed, 1 otherwise (the failing step is named).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTALLER = ROOT / "installer"
DIST = ROOT / "dist"
WORK = ROOT / "build"
SMOKE_CHECKS = ("os", "disk", "memory")


class StepFailed(Exception):
    """A build step failed; the message says which and why."""


def version() -> str:
    """The client version from ``zhishiyun/__init__.py`` (without importing it)."""
    text = (ROOT / "zhishiyun" / "__init__.py").read_text(encoding="utf-8")
    return re.search(r'__version__ = "([^"]+)"', text).group(1)


def windows_file_version(text: str) -> str:
    """Four dot-separated numbers for the installer's VERSIONINFO (``1.2.0rc1`` → ``1.2.0.0``)."""
    numbers = [int(n) for n in re.findall(r"\d+", text.split("+")[0])[:3]]
    return ".".join(str(n) for n in (numbers + [0, 0, 0, 0])[:4])


def run(cmd: list[str], step: str, **kwargs) -> subprocess.CompletedProcess:
    """Run a command; raise :class:`StepFailed` with its output when it fails."""
    print(f"build: {step}: {' '.join(map(str, cmd))}", flush=True)
    done = subprocess.run([str(c) for c in cmd], text=True, capture_output=True, **kwargs)
    if done.returncode != 0:
        raise StepFailed(f"{step} failed (exit {done.returncode}):\n{done.stdout[-3000:]}"
                         f"\n{done.stderr[-3000:]}")
    return done


def dir_size(path: Path) -> int:
    """Bytes under ``path`` (symlinks not followed)."""
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() or p.is_symlink())


def compile_translations() -> None:
    """``python -m zhishiyun.i18n``: .po → .mo, so the bundle ships compiled catalogs."""
    run([sys.executable, "-m", "zhishiyun.i18n"], "translations", cwd=ROOT)


def build_bundle() -> dict:
    """PyInstaller one-folder bundle in ``dist/zhishiyun``; returns size and seconds."""
    started = time.monotonic()
    run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
         "--distpath", DIST, "--workpath", WORK / "pyinstaller",
         INSTALLER / "zhishiyun.spec"], "pyinstaller", cwd=ROOT)
    seconds = time.monotonic() - started
    check_contents()
    size = dir_size(DIST / "zhishiyun")
    print(f"build: bundle dist/zhishiyun: {size / 1e6:.1f} MB in {seconds:.1f} s", flush=True)
    return {"bundle_bytes": size, "bundle_mb": round(size / 1e6, 1),
            "bundle_seconds": round(seconds, 1)}


#: Top-level packages that must never be in the client bundle.
FORBIDDEN = ("zhishiyun_server", "tests", "pytest", "_pytest", "fastapi", "uvicorn", "sqlalchemy",
             "alembic", "dlib", "PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtWebEngineCore")
#: Modules the client needs even though the CLI imports them only on demand.
REQUIRED = ("zhishiyun.cli", "zhishiyun.ui.app", "zhishiyun.checks.command", "zhishiyun.update",
            "zhishiyun.diagnose", "PySide6.QtWidgets", "cv2", "av")


def bundle_modules() -> set[str]:
    """Dotted names in the bundle: pure modules (PYZ table of contents) and extensions."""
    toc = (WORK / "pyinstaller" / "zhishiyun" / "PYZ-00.toc").read_text(encoding="utf-8")
    names = set(re.findall(r"\(\s*'([A-Za-z0-9_.]+)',\s*'[^']*',\s*'PYMODULE'", toc))
    internal = DIST / "zhishiyun" / "_internal"
    for path in internal.rglob("*"):
        if path.suffix in (".so", ".pyd") and not path.name.startswith("lib"):
            parts = path.relative_to(internal).parts
            names.add(".".join([*parts[:-1], path.name.split(".")[0]]))
    for directory in (p for p in internal.iterdir() if p.is_dir()):
        names.add(directory.name)  # packages shipped as folders (data, binaries)
    return names


def check_contents() -> None:
    """Fail when the bundle carries a forbidden package or misses a required module."""
    names = bundle_modules()
    prefixes = {".".join(n.split(".")[:k]) for n in names for k in (1, 2)}
    bad = [f for f in FORBIDDEN if f in prefixes]
    missing = [r for r in REQUIRED if r not in names]
    if bad or missing:
        raise StepFailed(f"bundle contents: forbidden {bad}, missing {missing}")
    print(f"build: bundle contents ok ({len(names)} modules; none of {', '.join(FORBIDDEN)})",
          flush=True)


def bundle_executable() -> Path:
    """The one executable inside the bundle."""
    return DIST / "zhishiyun" / ("zhishiyun.exe" if sys.platform == "win32" else "zhishiyun")


def smoke_test(exe: Path) -> dict:
    """``--version`` and ``check --headless --json --only os,disk,memory`` from the bundle.

    The checks may pass or fail on a small CI disk (exit 0 or 1); the test demands valid
    JSON with one result per requested check and no crash or usage error.
    """
    with tempfile.TemporaryDirectory(prefix="zhishiyun-smoke-") as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZHISHIYUN_")}
        env.update(ZHISHIYUN_HOME=home,
                   ZHISHIYUN_SYSTEM_CONFIG=str(Path(home) / "system.toml"),
                   QT_QPA_PLATFORM="offscreen")
        out = run([exe, "--version"], "smoke --version", env=env).stdout.strip()
        if out != f"zhishiyun {version()}":
            raise StepFailed(f"smoke --version printed {out!r}, expected 'zhishiyun {version()}'")
        cmd = [exe, "check", "--headless", "--json", "--only", ",".join(SMOKE_CHECKS)]
        print(f"build: smoke check: {' '.join(map(str, cmd))}", flush=True)
        done = subprocess.run([str(c) for c in cmd], text=True, capture_output=True, env=env,
                              encoding="utf-8")
        if done.returncode not in (0, 1):
            raise StepFailed(f"smoke check exited {done.returncode}: {done.stderr[-2000:]}")
        try:
            report = json.loads(done.stdout)
            ids = sorted(c["id"] for c in report["checks"])
        except (ValueError, KeyError, TypeError) as exc:
            raise StepFailed(f"smoke check printed no valid report ({exc}): "
                             f"{done.stdout[-2000:]} {done.stderr[-2000:]}") from None
        if ids != sorted(SMOKE_CHECKS):
            raise StepFailed(f"smoke check reported {ids}, expected {sorted(SMOKE_CHECKS)}")
        statuses = {c["id"]: c["status"] for c in report["checks"]}
        gui_smoke(exe, env)
        print(f"build: smoke ok: {out}; checks {statuses}; GUI starts", flush=True)
        return {"smoke": "ok", "smoke_checks": statuses}


def gui_smoke(exe: Path, env: dict, seconds: float = 6.0) -> None:
    """The GUI (Qt offscreen) must still be running after ``seconds``.

    A module, Qt plugin or resource missing from the bundle makes it exit at once.
    """
    cmd = [str(exe), "--server", "http://127.0.0.1:9"]
    print(f"build: smoke gui: {' '.join(cmd)} (offscreen, {seconds:.0f} s)", flush=True)
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            code = process.wait(seconds)
        except subprocess.TimeoutExpired:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            return
        log.seek(0)
        raise StepFailed(f"the GUI exited at once (code {code}): "
                         f"{log.read().decode(errors='replace')[-3000:]}")


def makensis() -> str:
    """The makensis executable (PATH, or the default Windows install location)."""
    found = shutil.which("makensis")
    default = Path(os.environ.get("ProgramFiles(x86)", r"C:\Program Files (x86)"),
                   "NSIS", "makensis.exe")
    if found:
        return found
    if default.exists():
        return str(default)
    raise StepFailed("makensis not found: install NSIS (Debian: apt-get install nsis)")


def stub_payload(where: Path) -> Path:
    """A tiny stand-in for the Windows bundle, shaped like it, for compiling the script."""
    payload = where / "stub-payload"
    (payload / "_internal" / "zhishiyun" / "resources").mkdir(parents=True, exist_ok=True)
    (payload / "zhishiyun.exe").write_bytes(b"MZ stub: the real bundle is built on Windows\n")
    (payload / "_internal" / "zhishiyun" / "resources" / "README.txt").write_text("stub\n")
    return payload


def build_nsis(payload: Path, outfile: Path, *, compressor: str = "lzma",
               script: Path = INSTALLER / "windows" / "zhishiyun.nsi") -> dict:
    """Compile the NSIS script (``installer/windows/zhishiyun.nsi``) with warnings as errors."""
    started = time.monotonic()
    outfile.parent.mkdir(parents=True, exist_ok=True)
    run([makensis(), "-V2", "-WX", f"-DVERSION={version()}",
         f"-DVI_VERSION={windows_file_version(version())}", f"-DPAYLOAD_DIR={payload}",
         f"-DOUTFILE={outfile}", f"-DCOMPRESSOR={compressor}", script], "makensis")
    seconds = time.monotonic() - started
    print(f"build: installer {outfile.name}: {outfile.stat().st_size / 1e6:.1f} MB "
          f"in {seconds:.1f} s", flush=True)
    return {"nsis": "ok", "installer": str(outfile), "nsis_seconds": round(seconds, 1)}


def build_pkg() -> dict:
    """macOS: component pkg of Zhishiyun.app (not relocatable) + product archive.

    Signing: set ``ZHISHIYUN_MAC_INSTALLER_IDENTITY`` ("Developer ID Installer: …").
    """
    work = WORK / "pkg"
    root = work / "root"
    shutil.rmtree(work, ignore_errors=True)
    root.mkdir(parents=True)
    shutil.copytree(DIST / "Zhishiyun.app", root / "Zhishiyun.app", symlinks=True)
    plist = work / "component.plist"
    run(["pkgbuild", "--analyze", "--root", root, plist], "pkgbuild --analyze")
    run(["plutil", "-replace", "BundleIsRelocatable", "-bool", "NO", plist], "plutil")
    component = work / "Zhishiyun-component.pkg"
    run(["pkgbuild", "--root", root, "--component-plist", plist,
         "--identifier", "cn.zhishiyun.client", "--version", version(),
         "--install-location", "/Applications",
         "--scripts", INSTALLER / "macos" / "scripts", component], "pkgbuild")
    out = DIST / f"Zhishiyun-{version()}.pkg"
    cmd = ["productbuild", "--package", component]
    identity = os.environ.get("ZHISHIYUN_MAC_INSTALLER_IDENTITY")
    if identity:
        cmd += ["--sign", identity]
    run([*cmd, out], "productbuild")
    print(f"build: installer {out.name}: {out.stat().st_size / 1e6:.1f} MB", flush=True)
    return {"pkg": str(out)}


def main(argv: list[str] | None = None) -> int:
    """Run the requested steps; print a JSON summary as the last line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--ci", action="store_true",
                      help="bundle + smoke test + NSIS compile against a stub payload")
    mode.add_argument("--nsis-only", action="store_true",
                      help="only compile the NSIS script against a stub payload")
    parser.add_argument("--no-installer", action="store_true", help="bundle and smoke only")
    args = parser.parse_args(argv)
    summary: dict = {"version": version(), "platform": sys.platform}
    started = time.monotonic()
    try:
        if not args.nsis_only:
            compile_translations()
            summary.update(build_bundle())
            summary.update(smoke_test(bundle_executable()))
        if args.ci or args.nsis_only:
            with tempfile.TemporaryDirectory(prefix="zhishiyun-nsis-") as tmp:
                summary.update(build_nsis(stub_payload(Path(tmp)),
                                          Path(tmp) / "ZhishiyunSetup-stub.exe"))
                summary["installer"] = "(stub payload, discarded)"
        elif not args.no_installer and sys.platform == "win32":
            summary.update(build_nsis(DIST / "zhishiyun",
                                      DIST / f"ZhishiyunSetup-{version()}.exe"))
        elif not args.no_installer and sys.platform == "darwin":
            summary.update(build_pkg())
    except StepFailed as exc:
        print(f"build: FAILED: {exc}", file=sys.stderr, flush=True)
        return 1
    summary["total_seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
