"""The one builder of an export's metadata.json, used by the trainers' own exports
and by the re-export from a workdir (export/workdir_export.py), so the two agree.

A domain describes its separator (Domain.export_description(): domain, sources,
shapes, STFT and chunk settings); the trainer records that description in
WORKDIR/run-<trainer>.json ("export"), so a re-export needs nothing else.
"""


def build(description, method, settings, code, test_metrics, exported_from=None):
  """metadata.json's contents (export/saved_model.py adds "version").

  Args:
    description: the domain's export description (JSON-ready dict).
    method: the results row, e.g. "nes", "lmm_nes", "supervised".
    settings: the run's settings (its flags).
    code: provenance of the code that trained (eggsep_tf.provenance.describe()).
    test_metrics: the method's test scores.
    exported_from: for a re-export, {"workdir", "checkpoint", "code"}.
  """
  metadata = {**description, "method": method, "settings": settings, "code": code,
              "test_metrics": test_metrics}
  if exported_from is not None:
    metadata["exported_from"] = exported_from
  return metadata
