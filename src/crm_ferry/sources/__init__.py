"""The Practice export bundle: reading it (streaming, typed, honest) and generating it.

* :mod:`.bundle`: :func:`open_bundle` and :class:`Bundle`, the reader (a package);
* :mod:`.discover`: :func:`~.discover.discover_source`, one pass summarising a bundle
  (counts, rejects, dangling references, data-quality findings, custom property types);
* :mod:`.generator`: :func:`~.generator.generate_bundle`, synthetic bundles with their
  ground truth (a package);
* :mod:`.schema`: the bundle contract as data (fields, kinds, header aliases);
* :mod:`.values`: value converters per field kind, and full-name splitting;
* :mod:`.csvrows`: CSV rows with their line numbers and row problems;
* :mod:`.infer`: custom property type inference;
* :mod:`.idtable`: compact id hash tables; :mod:`.fastinit`: record builders without
  ``__init__``.
"""

from crm_ferry.sources.bundle import Bundle, BundleFile, ObjectCounts, open_bundle

__all__ = ["Bundle", "BundleFile", "ObjectCounts", "open_bundle"]
