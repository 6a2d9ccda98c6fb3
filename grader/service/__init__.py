"""``nngrader serve``: the grading service, an HTTP API on the batch's pipeline and sandbox.

Modules, one idea each:

- ``config``: the configuration file (courses, tokens, limits) and ``Settings`` (how it runs).
- ``limits``: upload size, intake limits, submissions per hour, queue length, grading time, the
  time a request's body may take.
- ``auth``: who is asking (course and student tokens), signed job links, who may see a job.
- ``jobs``: the jobs table of a results store (``grader.database``): states, attempts, results
  stored exactly once.
- ``grading``: one job's grading in a child process, and the document of one not graded.
- ``workers``: the pool of worker threads, each grading in child processes (``LocalRunner``).
- ``dask_runner``: ``--executor dask``: each grading a task on a Dask cluster (``DaskRunner``).
- ``uploads``: an upload checked with intake and kept as one zip per submission.
- ``views``: results.json, report.html and the class views of stored results.
- ``submit``: one upload path (a student's file, a class export) for the API and the pages.
- ``models``: the API's JSON bodies and the exact OpenAPI document.
- ``pages``: the web pages (jinja2 templates in ``templates/``, no script).
- ``context``: the running service and the routes' dependencies.
- ``jobs_api``, ``courses_api``: the routes (students; instructors).
- ``app``: ``create_app``. ``server``: uvicorn's settings, with a deadline for a request's
  headers. ``cli``: the ``serve`` command.
- ``remote``: ``nngrader check --remote``, the client side (httpx).

FastAPI and uvicorn are optional (``pip install 'nngrader[service]'``): nothing outside this
package imports it, except ``grader.cli`` registering the command (whose handler imports it).
"""
