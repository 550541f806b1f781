"""Code the tests share: fakes, project builders and readers of what a run left behind.

The test folders are not packages; ``pythonpath = ["tests"]`` in pyproject.toml makes
this one importable as ``helpers`` from every test module (``from helpers.load import
Project``), with no ``sys.path`` edits.

- :mod:`helpers.dataverse_fakes`: a fake Dataverse Web API and a fake clock for the client;
- :mod:`helpers.load`: the project of the load tests and dumps that can be compared;
- :mod:`helpers.reconcile`: the provisioned project of the sample and verify tests;
- :mod:`helpers.project`: a provisioned project on a generated bundle, built as the demo does;
- :mod:`helpers.journal`: read-only queries on a project's journal, for assertions;
- :mod:`helpers.postgres`: a throwaway PostgreSQL server and its fixtures (``postgres_url``);
- :mod:`helpers.backend`: the journal the load tests run on (``CRM_FERRY_TEST_JOURNAL``) and
  moving a project's journal there;
- :mod:`helpers.webapi`, :mod:`helpers.definitions`, :mod:`helpers.csdl`: raw Web API requests
  to the emulator (``$batch`` bodies and answers, custom tables, columns and keys, the
  ``$metadata`` document);
- :mod:`helpers.files`, :mod:`helpers.metadata_docs`, :mod:`helpers.sdk`: file and image
  columns, the documented metadata examples, Microsoft's SDK on the emulator.
"""
