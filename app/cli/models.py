"""``voxshift models``: shared model files (installed / missing / where to get them), an
optional verified download, and a safe look inside any model file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from models.errors import VoxshiftError
from models.kinds import WeightNorm

EPILOG = """examples:
  voxshift models                          what is installed, what is missing, where to get it
  voxshift models --verify                 also check the SHA-256 of installed files
  voxshift models --download               download every missing file (resumable, verified)
  voxshift models --download rmvpe.pt      download one file
  voxshift models --inspect my_voice.pth   say what a model file is (never runs code from it)

environment: VOXSHIFT_MODELS_DIR (models folder), VOXSHIFT_HUBERT / VOXSHIFT_RMVPE (explicit
file paths), HF_ENDPOINT (download server).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "models",
        help="list, download or inspect model files",
        description="Shared model files (HuBERT content encoder, RMVPE pitch) and model inspection.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--dir", type=Path, help="models folder (default: $VOXSHIFT_MODELS_DIR or user data dir)")
    p.add_argument("--verify", action="store_true", help="check the SHA-256 of installed files")
    p.add_argument(
        "--download", nargs="*", metavar="NAME", help="download these files (default: every missing one)"
    )
    p.add_argument("--endpoint", help="Hugging Face Hub server for downloads (default: $HF_ENDPOINT)")
    p.add_argument("--inspect", nargs="+", type=Path, metavar="FILE", help="describe model files")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.inspect:
        return _inspect(args.inspect)
    if args.download is not None:
        code = _download(args.download, args.dir, args.endpoint)
        _list(args.dir, verify=False)
        return code
    _list(args.dir, args.verify)
    return 0


def _list(folder: Path | None, verify: bool) -> None:
    from models import files

    where = folder or files.models_dir()
    print(f"models folder: {where}")
    for st in files.status(folder, verify=verify):
        f = st.file
        if not st.present:
            state = "MISSING"
        elif st.verified is False:
            state = "CORRUPT (SHA-256 differs; download it again)"
        elif not st.size_ok:
            state = f"installed, unexpected size {st.size} (expected {f.size})"
        else:
            state = "installed, verified" if st.verified else "installed"
        print(f"  {f.name:<16} {state}")
        print(f"    {f.purpose}")
        print(f"    path: {st.path} ({st.origin})")
        if not st.present:
            print(f"    get it: voxshift models --download {f.name}   or from {f.source}")
            print(f"            (usual source: the {files.SOURCE_REPO} repository on Hugging Face),")
            print(f"            then put it at the path above or set ${f.env}")


def _download(names: list[str], folder: Path | None, endpoint: str | None) -> int:
    from tqdm import tqdm

    from models import files

    try:
        wanted = [files.spec(n) for n in names] or [st.file for st in files.status(folder) if not st.present]
    except VoxshiftError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not wanted:
        print("every shared model file is installed")
        return 0
    code = 0
    for f in wanted:
        with tqdm(total=f.size, unit="B", unit_scale=True, desc=f.name) as bar:

            def progress(done: int, total: int, bar: tqdm = bar) -> None:
                bar.total = total
                bar.update(done - bar.n)

            try:
                path = files.download(f, folder, endpoint=endpoint, progress=progress)
            except VoxshiftError as exc:
                bar.close()
                print(f"error: {exc}", file=sys.stderr)
                code = 1
                continue
        print(f"{f.name}: verified, saved to {path}")
    return code


def _inspect(paths: list[Path]) -> int:
    from models.checkpoint import detect

    code = 0
    for path in paths:
        try:
            found = detect(path)
        except VoxshiftError as exc:
            print(f"{path}: error: {exc}")
            code = 1
            continue
        facts = ", ".join(f"{k} {v}" for k, v in found.summary().items() if k != "kind")
        print(f"{path}: {found.description}" + (f" ({facts})" if facts else ""))
        if found.weight_norm not in (None, WeightNorm.NONE):
            print(f"  weight-norm naming: {found.weight_norm.value}")
        if found.info:
            print(f"  info: {found.info}")
    return code
