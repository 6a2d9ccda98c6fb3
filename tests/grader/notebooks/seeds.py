"""Test notebooks rebuilt from the seed printouts' cells (``/work/shared/seeds``, variants.md §0).

Our own reconstruction with nbformat: the cells' code, markdown and printed outputs as the seeds
show them (seed 000: CS231n Dropout.ipynb on Colab; 001: UCLA C147 Dropout.ipynb; 002: UCLA 239AS
Optimization/Dropout; 003: CS182 bn_drop.ipynb; 004: daseCV Dropout.ipynb), shortened to the
cells the tests need.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
from nbformat import v4

COLAB_CELL = """\
# This mounts your Google Drive to the Colab VM.
from google.colab import drive
drive.mount('/content/drive')
FOLDERNAME = 'cs231n/assignments/assignment2/'
assert FOLDERNAME is not None, "[!] Enter the foldername."
import sys
sys.path.append('/content/drive/My Drive/{}'.format(FOLDERNAME))
%cd /content/drive/My\\ Drive/$FOLDERNAME/cs231n/datasets/
!bash get_datasets.sh
%cd /content/drive/My\\ Drive/$FOLDERNAME
"""
COLAB_OUT = (
    "Drive already mounted at /content/drive; to attempt to forcibly remount, call "
    'drive.mount("/content/drive", force_remount=True).\n'
    "/content/drive/My Drive/cs231n/assignments/assignment2/cs231n/datasets\n"
    "/content/drive/My Drive/cs231n/assignments/assignment2\n"
)
FORWARD_CELL = """\
np.random.seed(231)
x = np.random.randn(500, 500) + 10

for p in [0.25, 0.4, 0.7]:
    out, _ = dropout_forward(x, {'mode': 'train', 'p': p})
    out_test, _ = dropout_forward(x, {'mode': 'test', 'p': p})

    print('Running tests with p = ', p)
    print('Mean of input: ', x.mean())
    print('Mean of train-time output: ', out.mean())
    print('Mean of test-time output: ', out_test.mean())
    print('Fraction of train-time output set to zero: ', (out == 0).mean())
    print('Fraction of test-time output set to zero: ', (out_test == 0).mean())
    print()
"""
FORWARD_OUT = (
    "Running tests with p =  0.25\nMean of input:  10.000207878477502\n"
    "Mean of train-time output:  10.014059116977283\n"
    "Mean of test-time output:  10.000207878477502\n"
    "Fraction of train-time output set to zero:  0.749784\n"
    "Fraction of test-time output set to zero:  0.0\n\n"
)
BACKWARD_CELL = """\
np.random.seed(231)
x = np.random.randn(10, 10) + 10
dout = np.random.randn(*x.shape)

dropout_param = {'mode': 'train', 'p': 0.2, 'seed': 123}
out, cache = dropout_forward(x, dropout_param)
dx = dropout_backward(dout, cache)
dx_num = eval_numerical_gradient_array(lambda xx: dropout_forward(xx, dropout_param)[0], x, dout)

# Error should be around e-10 or less.
print('dx relative error: ', rel_error(dx, dx_num))
"""
FC_CHECK_OUT = (
    "Running check with dropout =  1\nInitial loss:  2.3004790897684924\n"
    "W1 relative error: 1.48e-07\nW2 relative error: 2.21e-05\nW3 relative error: 3.53e-07\n"
    "b1 relative error: 5.38e-09\nb2 relative error: 2.09e-09\nb3 relative error: 5.80e-11\n\n"
    "Running check with dropout =  0.75\nInitial loss:  2.302371489704412\n"
    "W1 relative error: 1.90e-07\nW2 relative error: 4.76e-06\nW3 relative error: 2.60e-08\n"
    "b1 relative error: 4.73e-09\nb2 relative error: 1.82e-09\nb3 relative error: 1.70e-10\n"
)
Q1 = (
    "What happens if we do not divide the values being passed through inverse dropout by `p` "
    "in the dropout layer? Why does that happen?"
)
A1 = (
    "Without dividing by (p) in inverse dropout, the activations during training will be smaller "
    "than during testing. Dividing by (p) fixes this by keeping the scale of activations "
    "consistent between training and testing."
)
Q2 = (
    "Compare the validation and training accuracies with and without dropout -- what do your "
    "results suggest about dropout as a regularizer?"
)
A2 = (
    "Without dropout, the training accuracy gets very high (around 99%), but the validation "
    "accuracy stays much lower (around 30%)."
)
BEST_MODEL_CELL = """\
y_test_pred = np.argmax(best_model.loss(data['X_test']), axis=1)
y_val_pred = np.argmax(best_model.loss(data['X_val']), axis=1)
print('Validation set accuracy: ', (y_val_pred == data['y_val']).mean())
print('Test set accuracy: ', (y_test_pred == data['y_test']).mean())
"""


def stream(text: str) -> Any:
    return v4.new_output("stream", name="stdout", text=text)


def code(source: str, count: int | None = None, *outputs: Any) -> Any:
    return v4.new_code_cell(source, execution_count=count, outputs=list(outputs))


def md(source: str) -> Any:
    return v4.new_markdown_cell(source)


def notebook(*cells: Any, **metadata: Any) -> Any:
    nb = v4.new_notebook(cells=list(cells))
    nb.metadata.update(metadata)
    return nb


def write(nb: Any, path: Path) -> Path:
    """Write ``nb`` (validated by nbformat first: the test's notebooks are real ones)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.validate(nb)
    path.write_text(nbformat.writes(nb), encoding="utf-8")
    return path


def unrun(nb: Any) -> Any:
    """The same notebook saved without running it (no outputs, no counts)."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def cs231n_dropout(answer2: str = A2) -> Any:
    """Seed 000: CS231n Dropout.ipynb run on Colab (its cells and printed values)."""
    colab = code(COLAB_CELL, 2, stream(COLAB_OUT))
    colab.metadata.update({"colab": {"base_uri": "https://localhost:8080/"}, "outputId": "x1"})
    return notebook(
        colab,
        md("# Dropout\nDropout [1] is a technique for regularizing neural networks."),
        code("import numpy as np\nfrom cs231n.layers import *", 3),
        md("# Dropout: Forward Pass\nIn the file `cs231n/layers.py`, implement the forward pass."),
        code(FORWARD_CELL, 6, stream(FORWARD_OUT)),
        code(BACKWARD_CELL, 7, stream("dx relative error:  5.44560814873387e-11\n")),
        md(f"## Inline Question 1:\n\n{Q1}\n\n## Answer:\n{A1}\n"),
        md("# Fully Connected Networks with Dropout"),
        code("for dropout_keep_ratio in [1, 0.75, 0.5]:\n    ...", 8, stream(FC_CHECK_OUT)),
        md(f"## Inline Question 2:\n\n{Q2}\n\n## Answer:\n"),
        md(answer2),
        accelerator="GPU",
        colab={"provenance": []},
    )


def cs231n_fc(val: str = "0.544", test: str = "0.533") -> Any:
    """FullyConnectedNets.ipynb's best-model check cell (the values: seed 002's prints)."""
    out = f"Validation set accuracy:  {val}\nTest set accuracy:  {test}\n"
    return notebook(md("# Train a good model!"), code(BEST_MODEL_CELL, 31, stream(out)))


def with_error_cell() -> Any:
    """Seed 000's setup run where the data is missing: the load cell raised."""
    error = v4.new_output(
        "error",
        ename="FileNotFoundError",
        evalue="[Errno 2] No such file or directory: 'cs231n/datasets/cifar-10-batches-py'",
        traceback=["Traceback (most recent call last)", "FileNotFoundError: ..."],
    )
    nb = cs231n_dropout()
    nb.cells.insert(3, code("data = get_CIFAR10_data()", 4, error))
    return nb


def ucla_dropout() -> Any:
    """Seed 001 (C147 Dropout.ipynb): question and answer cells, the final part's Solver."""
    return notebook(
        md("# ECE C147/247 HW4 Q3: Dropout"),
        code(
            "solver.train()",
            25,
            stream(
                "(Epoch 11 / 25) train acc: 0.629000; val_acc: 0.545000\n"
                "(Epoch 12 / 25) train acc: 0.650000; val_acc: 0.537000\n"
            ),
        ),
        md(
            "## Question\n\nBased off the results of this experiment, is dropout performing "
            "regularization? Explain your answer."
        ),
        md(
            "## Answer:\n\nBy examining the plots of the accuracy for both validation and "
            "training data, we can conclude that dropout is performing regularization."
        ),
        code(
            "solver.val_acc_history[-1]",
            31,
            v4.new_output("execute_result", data={"text/plain": "0.534"}, execution_count=31),
        ),
    )


def ucla_239as_bn() -> Any:
    """Seed 002 (239AS): a Python 2 print and question and answer in one cell."""
    return notebook(
        code(
            "print('dx error: ', rel_error(dx_num, dx))",
            12,
            stream("('dx error: ', 1.2297161996232763e-08)\n"),
        ),
        md(
            "## Question:\n\nIn the cell below, summarize the findings of this experiment, and "
            "WHY these results make sense.\n\n#### **Answer:**\n\nBatch Normalization tries to "
            "avert a lot of issues related to bad initialization."
        ),
    )


def dasecv_dropout() -> Any:
    """Seed 004 (daseCV): the questions in Chinese, each answered in a cell of its own."""
    return notebook(
        md(
            "### 3.1 问题 1:\n\n如果我们不利用 inverted dropout, "
            "在训练的时候直接将 dropout 后的值除以 $p$, 会发生什么?"
        ),
        md(
            "### 3.2 回答:\n\n除了 Mean of train-time output 和 Mean of test-time output 会变, "
            "其他结果都不会变。"
        ),
        md("## 4 全连接网络的 Dropout"),
    )


def v3(cells: list[dict[str, Any]]) -> str:
    """An nbformat 3 notebook's JSON (worksheets, ``input``, ``prompt_number``)."""
    return json.dumps(
        {
            "metadata": {"name": "Dropout"},
            "nbformat": 3,
            "nbformat_minor": 0,
            "worksheets": [{"cells": cells, "metadata": {}}],
        }
    )
