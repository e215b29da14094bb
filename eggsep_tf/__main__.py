"""`python -m eggsep_tf COMMAND ...`: the `eggsep` command without its console script."""

from eggsep_tf.export import cli

if __name__ == "__main__":
  cli.entry_point()
