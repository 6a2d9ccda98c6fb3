"""The trained model's accuracy, measured by the grading process (issue 12).

``artifact`` (the model file: nngrader's ``.npz`` format, validated before anything is
allocated), ``course_npy`` (the course's pickled ``.npy``, opened only inside the sandbox),
``data`` (CIFAR-10 batches, the splits, the preprocessing, MD5 verification), ``evaluate`` (the
reference forward pass, batched), ``formula`` (the spec's grade, exact), ``check`` (the pipeline
stage: which model, its accuracies, one ``Outcome`` per rule).
"""
