"""The rows every results table shows beside the methods: Const and the oracle."""

from eggsep_tf import results


def write_baselines(domain, workdir, writer):
  """Adds the rows every table shows beside the methods, if missing: Const (x = c * y,
  c = --const_fraction) and Oracle (the ideal mask: the ceiling of mask methods).

  Returns the workdir's results.
  """
  scores = results.load(workdir)
  x_name, b_name = domain.names()
  if "const" not in scores:
    const_scores, _ = domain.evaluate_const(domain.run.const_fraction)
    scores = results.update(workdir, "const", const_scores, x_name, b_name)
    domain.log(writer, 0, "test/const", const_scores)
  if "oracle" not in scores:
    oracle_scores = domain.evaluate_oracle()
    scores = results.update(workdir, "oracle", oracle_scores, x_name, b_name)
    domain.log(writer, 0, "test/oracle", oracle_scores)
  return scores
