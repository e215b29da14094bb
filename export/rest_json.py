"""Request bodies of TF-Serving's REST API -> numpy, decoded as TF-Serving does.

TF-Serving parses with rapidjson (tensorflow_serving/util/json_tensor.cc, flags
kParseIterativeFlag | kParseNanAndInfFlag | kParseStopWhenDoneFlag, UTF-8
input without validation). This module reproduces what a client can see of
that, case by case (the README's "Serving" section has the table):

- Request: {"signature_name": str (optional), "instances": [...]} (row format)
  or {"inputs": ...} (columnar format), never both. Row format: each
  instance is a value (single-input signature) or an object with every named
  input; instances are stacked on a new batch axis.
- Parsing stops after the first JSON value (trailing bytes are ignored); the
  first of duplicate keys wins; a UTF-8 byte-order mark is skipped; bytes
  that are not valid UTF-8 pass through into string tensors unchanged; the
  body is UTF-8 only (a UTF-16 body is a parse error).
- Numbers: NaN, Infinity and -Infinity are accepted; a number beyond the
  double range (1e400) is an error; an integer beyond uint64 becomes a double
  (so it fits a float input, not an integer one); a float input takes any
  number, rounding values beyond float32's range to +-inf; an integer input
  takes only integers in its range; booleans only fit bool inputs.
- Binary strings travel as {"b64": "<standard base64>"} (padding optional,
  line breaks ignored) and reach the graph as bytes.

Every user error raises RestError(400, one line); nothing here raises
anything else for any body (tests/test_serve_fuzz.py checks this). The JSON
values become arrays in export/json_arrays.py.
"""


from eggsep_tf.export.json_arrays import to_array
from eggsep_tf.export.json_text import RestError
from eggsep_tf.export.json_text import bad
from eggsep_tf.export.json_text import is_b64
from eggsep_tf.export.json_text import is_named
from eggsep_tf.export.json_text import parse_json
from eggsep_tf.export.json_text import short

__all__ = ["COLUMNAR", "DEFAULT_SIGNATURE", "ROW", "RestError", "is_b64", "parse_json",
           "parse_predict_request", "request_to_arrays"]

ROW = "row"
COLUMNAR = "columnar"
DEFAULT_SIGNATURE = "serving_default"


def parse_predict_request(body):
  """Parses a :predict body.

  Args:
    body: the request body, bytes (or a bytearray, emptied once decoded).

  Returns:
    (signature_name, format, payload, has_bools): the signature
    ("serving_default" when absent or empty), ROW or COLUMNAR, the value of
    "instances"/"inputs", and whether the text holds true/false anywhere.

  Raises:
    RestError(400): not JSON, not an object, a non-string signature_name,
      both or neither of "instances" and "inputs", or empty "instances".
  """
  has_bools = b"true" in body or b"false" in body
  request = parse_json(body, has_bools)
  if not isinstance(request, dict):
    raise bad(f"JSON Value: {short(request)} Is not object")
  signature = request.get("signature_name", "")
  if not isinstance(signature, str):
    raise bad("'signature_name' key must be a string value")
  signature = signature or DEFAULT_SIGNATURE
  has_instances, has_inputs = "instances" in request, "inputs" in request
  if has_instances and has_inputs:
    raise bad("Not formatted correctly expecting only one of 'inputs' or 'instances' "
               "keys to exist")
  if has_instances:
    instances = request["instances"]
    if not isinstance(instances, list):
      raise bad("Expecting 'instances' to be an list/array")
    if not instances:
      raise bad("No values in 'instances' array")
    return signature, ROW, instances, has_bools
  if has_inputs:
    return signature, COLUMNAR, request["inputs"], has_bools
  raise bad("Missing 'inputs' or 'instances' key")


def request_to_arrays(request_format, payload, input_specs, has_bools=True,
                      max_elements=None):
  """The tensors a request gives each input of a signature.

  Args:
    request_format: ROW or COLUMNAR (from parse_predict_request).
    payload: the value of "instances" (ROW) or "inputs" (COLUMNAR).
    input_specs: {input name: tf.TensorSpec} of the signature.
    has_bools: whether the body holds true/false (from parse_predict_request);
      False skips the check for booleans inside numeric tensors.
    max_elements: the most elements one input may have (None: no limit).

  Returns:
    {input name: np.ndarray} with the dtype of each spec (strings as object
    arrays of bytes); in ROW format the first axis is the instance axis.

  Raises:
    RestError(400): a missing input, a wrong type, rank or shape, ragged
      lists, too many elements; RestError(501): an input dtype that JSON
      cannot fill (as TF-Serving).
  """
  names = list(input_specs)
  if request_format == ROW:
    if is_named(payload[0]):
      columns = {n: [] for n in names}
      for i, instance in enumerate(payload):
        if not is_named(instance):
          raise bad(f"Expecting object but got list at item {i} of input list")
        if set(instance) != set(names):
          raise bad(f"Failed to process element: {i} of 'instances' list. JSON object: "
                     f"keys must be equal to: {','.join(sorted(names))}")
        for n in names:
          columns[n].append(instance[n])
    else:
      if len(names) > 1:
        raise bad("instances is a plain list, but expecting list of objects as multiple "
                   f"input tensors required as per tensorinfo_map ({sorted(names)})")
      for i, instance in enumerate(payload):
        if is_named(instance):
          raise bad(f"Expecting value/list but got object at item {i} of input list")
      columns = {names[0]: payload}
  else:
    if is_named(payload):
      missing = [n for n in names if n not in payload]
      if missing:
        raise bad(f"Missing named input: {missing[0]} in 'inputs' object.")
      columns = {n: payload[n] for n in names}
    else:
      if len(names) > 1:
        raise bad("inputs is a plain value/list, but expecting an object as multiple "
                   f"input tensors required as per tensorinfo_map ({sorted(names)})")
      columns = {names[0]: payload}
  return {n: to_array(columns[n], n, input_specs[n], has_bools, max_elements)
          for n in names}
