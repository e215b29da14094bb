"""User-facing errors.

Library code raises `InputError` for anything a user can fix (a missing path, a
corrupt file, NaN in the data, a bad setting). Its message names the file or
setting and says what was expected. Entry points (trainers/, export/) catch it
and exit non-zero with that single line instead of a traceback.
"""


class InputError(ValueError):
  """Bad input a user can fix; str(error) is the whole message to show."""
