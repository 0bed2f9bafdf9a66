"""Texts to compare for near-copies: project files by line, public datasets by item (I/O edge)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from tierroute.data.importers import IMPORTERS, clinc150_oos_texts
from tierroute.data.io import expand_paths, read_records
from tierroute.data.overlap import TextRef

SHARED_DATASETS_ENV = "TIERROUTE_SHARED_DATASETS"


def shared_datasets_dir(repo_root: Path) -> Path:
    """The public datasets folder: ``$TIERROUTE_SHARED_DATASETS``, else ``../shared/datasets``."""
    configured = os.environ.get(SHARED_DATASETS_ENV)
    return Path(configured) if configured else repo_root.parent / "shared" / "datasets"


def project_refs(paths: Sequence[Path]) -> list[TextRef]:
    """The ``text`` of every row of the labeled files (and directories) named, by file:line."""
    refs: list[TextRef] = []
    for path in expand_paths(paths):
        for line, record, _ in read_records(path):
            text = record.get("text") if record is not None else None
            if isinstance(text, str) and text.strip():
                refs.append(TextRef(str(path), line, text))
    return refs


def public_refs(datasets_dir: Path) -> list[TextRef]:
    """Every query text of the public datasets under ``datasets_dir`` that are present there.

    Rows are taken before de-duplication, and CLINC150's out-of-scope rows are included: they
    are public text even though no tier is mapped to them.
    """
    refs: list[TextRef] = []
    for name, importer in sorted(IMPORTERS.items()):
        folder = datasets_dir / name
        if not folder.is_dir():
            continue
        refs.extend(TextRef(r.file, r.line, r.text) for r in importer(folder).rows)
        if name == "clinc150":
            file = str(folder / "data_full.json")
            refs.extend(TextRef(file, line, text) for line, text in clinc150_oos_texts(folder))
    return refs
