"""Transform: canonical records + the confirmed map + a target snapshot → operations.

Pure: no network and no files (attachment bytes come through an injected callable).
Entry points: :class:`crm_ferry.transform.engine.Transformer`,
:class:`crm_ferry.transform.schema.TargetSchema` / :class:`~crm_ferry.transform.schema.OrgSettings`,
:class:`crm_ferry.transform.context.TransformContext`, :mod:`crm_ferry.transform.ops`.
"""
