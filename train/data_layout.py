"""Dataset folder layouts: finding images, detecting the layout, matching paired files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from ganedit.errors import GaneditError
from ganedit.imageio import IMAGE_SUFFIXES

__all__ = [
    "DatasetError",
    "Layout",
    "detect_layout",
    "find_images",
    "layout_folders",
    "match_pairs",
    "missing_data_error",
]

Layout = Literal["unaligned", "aligned", "paired"]

_MAX_LISTED = 5


class DatasetError(GaneditError, ValueError):
    """A dataset folder is missing, empty, of an unexpected layout, or its images do not fit."""


def find_images(folder: Path) -> list[Path]:
    """Image files under ``folder``, recursively, sorted; hidden files and folders are skipped.

    Raises:
        DatasetError: ``folder`` is not a folder, or holds no image file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder} is not a folder")
    found = [
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
        and p.is_file()
    ]
    if not found:
        suffixes = " ".join(sorted(IMAGE_SUFFIXES))
        raise DatasetError(f"no images in {folder} (looked recursively for {suffixes})")
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def layout_folders(root: Path, phase: str, layout: Layout) -> list[Path]:
    if layout == "unaligned":
        return [root / f"{phase}A", root / f"{phase}B"]
    if layout == "paired":
        return [root / phase / "A", root / phase / "B"]
    return [root / phase]


_LAYOUT_HELP = {
    "unaligned": "{p}A/ and {p}B/ (unaligned, CycleGAN)",
    "aligned": "{p}/ with side-by-side AB images (aligned, pix2pix)",
    "paired": "{p}/A/ and {p}/B/ with matching file names (paired)",
}


def missing_data_error(root: Path, phase: str, layouts: Sequence[Layout]) -> DatasetError:
    looked = "; ".join(_LAYOUT_HELP[layout].format(p=phase) for layout in layouts)
    if not root.is_dir():
        found = "it does not exist" if not root.exists() else "it is not a folder"
    else:
        names = sorted(p.name + ("/" if p.is_dir() else "") for p in root.iterdir())
        found = "it is empty" if not names else "it holds " + _listing(names, limit=12)
    return DatasetError(f"no {phase!r} data in {root}: looked for {looked}; {found}")


def _listing(names: Sequence[str], *, limit: int = _MAX_LISTED) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", … ({len(names) - limit} more)" if len(names) > limit else "")


def detect_layout(root: Path, phase: str = "train") -> Layout:
    """Which layout ``root`` holds for ``phase``.

    ``PHASE/A`` + ``PHASE/B`` is ``paired`` (never ``aligned``); ``PHASEA`` + ``PHASEB`` is
    ``unaligned``; a ``PHASE`` folder otherwise is ``aligned``.

    Raises:
        DatasetError: No layout is present (the message says what was looked for and what
            ``root`` holds), or both an unaligned and an aligned/paired one are (pass ``mode``).
    """
    root = Path(root)
    present: list[Layout] = [
        layout
        for layout in ("paired", "aligned", "unaligned")
        if all(folder.is_dir() for folder in layout_folders(root, phase, layout))
    ]
    if "paired" in present:
        present.remove("aligned")
    if not present:
        raise missing_data_error(root, phase, ("unaligned", "aligned", "paired"))
    if len(present) > 1:
        raise DatasetError(
            f"{root} holds more than one layout for {phase!r}: {' and '.join(present)}; pass "
            "mode='unaligned' (CycleGAN) or mode='aligned'/'paired' (pix2pix) explicitly"
        )
    return present[0]


def match_pairs(a_dir: Path, b_dir: Path) -> tuple[list[Path], list[Path]]:
    """Pair the images of two folders by relative path without suffix (``x/1.png``~``x/1.jpg``).

    Raises:
        DatasetError: A name occurs twice on one side, or files lack a partner (a few are named).
    """
    sides = []
    for folder in (a_dir, b_dir):
        by_key: dict[str, Path] = {}
        for path in find_images(folder):
            key = path.relative_to(folder).with_suffix("").as_posix()
            if key in by_key:
                raise DatasetError(
                    f"{by_key[key]} and {path} have the same name; paired images are matched "
                    "by name without suffix, so each name may occur once per folder"
                )
            by_key[key] = path
        sides.append(by_key)
    a_keys, b_keys = sides
    only_a, only_b = sorted(a_keys.keys() - b_keys), sorted(b_keys.keys() - a_keys)
    if only_a or only_b:
        problems = [
            f"{len(names)} in {folder} without a partner in {other}: {_listing(names)}"
            for names, folder, other in ((only_a, a_dir, b_dir), (only_b, b_dir, a_dir))
            if names
        ]
        raise DatasetError(
            "paired folders do not match by file name: " + "; ".join(problems) + ". Remove or "
            "rename the unmatched files, or use the unaligned layout (trainA/, trainB/)"
        )
    keys = sorted(a_keys)
    return [a_keys[k] for k in keys], [b_keys[k] for k in keys]
