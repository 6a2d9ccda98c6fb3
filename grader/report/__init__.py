"""Views of a SubmissionResult: Gradescope results.json, terminal lines and tables."""
