"""Derives the correct examples of the other four courses from the three written by hand.

    python examples/make_variants.py

Each derived course differs from its source only in API conventions (variants.md §3, §3b, §4, §7),
which is exactly what the course specs map: package layout, the dropout argument and the meaning
of p, use_batchnorm vs normalization, Adam's default t. The generated folders are committed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _edit(path: Path, *pairs: tuple[str, str]) -> None:
    text = path.read_text()
    for old, new in pairs:
        if old not in text:
            raise SystemExit(f"{path}: {old!r} not found")
        text = text.replace(old, new)
    path.write_text(text)


def _fresh(dest: Path, src: Path) -> Path:
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(src, dest)
    return dest


def cs231n_2018(dest: Path) -> None:
    """Keep probability named `dropout` (1 = off), `normalization=`, and a TwoLayerNet (§3b)."""
    _fresh(dest, HERE / "cs231n-2021" / "correct")
    fc = dest / "cs231n" / "classifiers" / "fc_net.py"
    _edit(
        fc,
        ("dropout_keep_ratio=1,", "dropout=1,"),
        ("self.use_dropout = dropout_keep_ratio != 1", "self.use_dropout = dropout != 1"),
        ('{"mode": "train", "p": dropout_keep_ratio}', '{"mode": "train", "p": dropout}'),
    )
    cs182_fc = HERE / "cs182-sp25" / "correct" / "deeplearning" / "classifiers" / "fc_net.py"
    two_layer = cs182_fc.read_text()
    two_layer = two_layer[two_layer.index("\n\nclass TwoLayerNet") :]
    fc.write_text(fc.read_text() + two_layer.replace("weight_scale=1e-2", "weight_scale=1e-3"))


def dasecv_2021(dest: Path) -> None:
    """The 2019 starter with the package renamed daseCV (§7)."""
    tmp = HERE / "_tmp_dasecv"
    cs231n_2018(tmp)
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    shutil.move(str(tmp / "cs231n"), str(dest / "daseCV"))
    shutil.rmtree(tmp)


def cs231n_2017(dest: Path) -> None:
    """Drop probability `dropout=0`, `use_batchnorm`, Adam t default 1, cs231n/ layout (§3)."""
    _fresh(dest, HERE / "cs231n-2021" / "correct")
    ucla = HERE / "ucla-c147-2022" / "correct" / "nndl"
    pkg = dest / "cs231n"
    shutil.copyfile(ucla / "layers.py", pkg / "layers.py")
    ucla_imports = "from nndl.layers import *\nfrom nndl.layer_utils import *"
    package_imports = "from ..layers import *\nfrom ..layer_utils import *"
    fc = (ucla / "fc_net.py").read_text().replace(ucla_imports, package_imports)
    head, two_layer = fc.split("\n\nclass TwoLayerNet", 1)
    # 2017's TwoLayerNet: hidden_dim and no dropout argument (§3.2); UCLA's: hidden_dims, dropout.
    two_layer = two_layer.replace(
        "hidden_dims=100, num_classes=10, dropout=0,", "hidden_dim=100, num_classes=10,"
    )
    (pkg / "classifiers" / "fc_net.py").write_text(
        head + "\n\nclass TwoLayerNet" + two_layer.replace("hidden_dims", "hidden_dim")
    )
    _edit(pkg / "optim.py", ('config.setdefault("t", 0)', 'config.setdefault("t", 1)'))


def ucla_ece239as_2018(dest: Path) -> None:
    """C147's code with the given package named cs231n/ instead of utils/ (§4.1)."""
    _fresh(dest, HERE / "ucla-c147-2022" / "correct")
    shutil.move(str(dest / "utils"), str(dest / "cs231n"))


def main() -> None:
    cs231n_2018(HERE / "cs231n-2018" / "correct")
    dasecv_2021(HERE / "dasecv-2021" / "correct")
    cs231n_2017(HERE / "cs231n-2017" / "correct")
    ucla_ece239as_2018(HERE / "ucla-ece239as-2018" / "correct")


if __name__ == "__main__":
    main()
