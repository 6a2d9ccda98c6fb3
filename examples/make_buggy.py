"""Writes the buggy example submissions: each is cs231n-2021/correct with ONE planted mistake.

    python examples/make_buggy.py

Re-runnable; the generated folders are committed so that the README's first command and the
tests can grade them without running this script.
"""

from __future__ import annotations

import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORRECT = HERE / "cs231n-2021" / "correct"

# name -> (file, old text, new text, what is wrong)
BUGS: dict[str, tuple[str, str, str, str]] = {
    "bug-affine-backward-no-reshape": (
        "cs231n/layers.py",
        "dx = np.dot(dout, w.T).reshape(x.shape)",
        "dx = np.dot(dout, w.T)",
        "affine_backward returns dx flattened to (N, D) instead of x's shape",
    ),
    "bug-relu-backward": (
        "cs231n/layers.py",
        "dx[x <= 0] = 0",
        "dx[x < -0.5] = 0",
        "relu_backward lets the gradient through for inputs in (-0.5, 0]",
    ),
    "bug-softmax-no-mean": (
        "cs231n/layers.py",
        "loss = -np.sum(log_p[np.arange(N), y]) / N",
        "loss = -np.sum(log_p[np.arange(N), y])",
        "softmax_loss sums the loss over the batch instead of averaging it",
    ),
    "bug-batchnorm-unbiased-var": (
        "cs231n/layers.py",
        "sample_var = np.mean(xc ** 2, axis=0)",
        "sample_var = np.sum(xc ** 2, axis=0) / (N - 1)",
        "batchnorm_forward uses the unbiased variance",
    ),
    "bug-batchnorm-running-momentum": (
        "cs231n/layers.py",
        "running_mean = momentum * running_mean + (1 - momentum) * sample_mean",
        "running_mean = (1 - momentum) * running_mean + momentum * sample_mean",
        "batchnorm_forward swaps momentum and 1 - momentum in the running mean",
    ),
    "bug-dropout-flipped": (
        "cs231n/layers.py",
        "mask = np.random.binomial(1, p, size=x.shape) / p",
        "mask = np.random.binomial(1, 1 - p, size=x.shape) / (1 - p)",
        "dropout_forward treats p as the drop probability "
        "(this course's p is the keep probability)",
    ),
    "bug-dropout-no-scale": (
        "cs231n/layers.py",
        "mask = np.random.binomial(1, p, size=x.shape) / p",
        "mask = np.random.binomial(1, p, size=x.shape)",
        "dropout_forward does not rescale kept units by 1/p",
    ),
    "bug-adam-no-bias-correction": (
        "cs231n/optim.py",
        'lr_t = config["learning_rate"] * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)',
        'lr_t = config["learning_rate"]\n    t = 0',
        "adam has no bias correction",
    ),
    "bug-momentum-sign": (
        "cs231n/optim.py",
        "next_w = w + v\n",
        "next_w = w - v\n",
        "sgd_momentum subtracts the velocity",
    ),
    "bug-rmsprop-no-sqrt": (
        "cs231n/optim.py",
        'dw / (np.sqrt(cache) + config["epsilon"])',
        'dw / (cache + config["epsilon"])',
        "rmsprop divides by the cache instead of its square root",
    ),
    "bug-fc-reg-no-half": (
        "cs231n/classifiers/fc_net.py",
        "loss += 0.5 * self.reg * np.sum(W * W)",
        "loss += self.reg * np.sum(W * W)",
        "FullyConnectedNet's L2 term lacks the 0.5 factor",
    ),
    "bug-layernorm-axis": (
        "cs231n/layers.py",
        "    xt = x.T\n",
        "    xt = x\n",
        "layernorm_forward normalizes over the batch axis",
    ),
}


def main() -> None:
    for name, (rel, old, new, what) in BUGS.items():
        dest = HERE / "cs231n-2021" / name
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(CORRECT, dest)
        path = dest / rel
        text = path.read_text()
        if old not in text:
            raise SystemExit(f"{name}: text to replace not found in {rel}")
        path.write_text(text.replace(old, new, 1))
        (dest / "README.txt").write_text(f"{what} ({rel}).\n")
    dest = HERE / "cs231n-2021" / "missing-raising-hanging"
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(CORRECT, dest)
    layers = dest / "cs231n" / "layers.py"
    text = layers.read_text()
    start = text.index("def layernorm_forward(")
    end = text.index("def layernorm_backward(")
    text = text[:start] + text[end:]
    text = text.replace(
        "def batchnorm_backward_alt(dout, cache):\n",
        'def batchnorm_backward_alt(dout, cache):\n    raise ValueError("not implemented yet")\n',
        1,
    )
    layers.write_text(text)
    optim = dest / "cs231n" / "optim.py"
    optim.write_text(
        optim.read_text().replace(
            "def rmsprop(w, dw, config=None):\n",
            "def rmsprop(w, dw, config=None):\n    while True:\n        pass\n",
            1,
        )
    )
    (dest / "README.txt").write_text(
        "layernorm_forward is missing, batchnorm_backward_alt raises, rmsprop never returns.\n"
    )


if __name__ == "__main__":
    main()
