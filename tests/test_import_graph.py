"""The import graph of the package folders (eggsep_tf/, data/, trainers/, export/),
read from the source with ast: no cycles (imports inside functions count too), and
the library proper (eggsep_tf/*.py but its __init__ and __main__) imports nothing from
data/, trainers/ or export/."""

import ast
import os

from tests import helpers

# Folder -> the module prefix its files have (setup.py maps them into eggsep_tf.*).
FOLDERS = {"eggsep_tf": "eggsep_tf", "data": "eggsep_tf.data",
           "trainers": "eggsep_tf.trainers", "export": "eggsep_tf.export"}
UPPER = ("eggsep_tf.data", "eggsep_tf.trainers", "eggsep_tf.export")


def _modules():
  """{module name: file path} of every .py file in the package folders."""
  found = {}
  for folder, prefix in FOLDERS.items():
    for name in sorted(os.listdir(os.path.join(helpers.ROOT, folder))):
      if name.endswith(".py"):
        module = prefix if name == "__init__.py" else f"{prefix}.{name[:-3]}"
        found[module] = os.path.join(helpers.ROOT, folder, name)
  return found


def _imports(path, modules):
  """The project modules a file imports (anywhere in it), as resolved names."""
  with open(path) as f:
    tree = ast.parse(f.read(), path)
  out = set()
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
      # `from eggsep_tf.data import tfrecords` names a module; `from x import f` a name.
      names = [f"{node.module}.{alias.name}" for alias in node.names]
      names = [n if n in modules else node.module for n in names]
    else:
      continue
    out.update(n for n in names if n in modules)
  return out


def _graph():
  modules = _modules()
  graph = {m: _imports(p, modules) - {m} for m, p in modules.items()}
  # A package's own __init__ is imported by its modules implicitly; only explicit edges count.
  return graph


def _cycle(graph):
  """One import cycle as a list of modules, or None."""
  state, stack = {}, []

  def visit(node):
    state[node] = "open"
    stack.append(node)
    for nxt in sorted(graph[node]):
      if state.get(nxt) == "open":
        return stack[stack.index(nxt):] + [nxt]
      if nxt not in state:
        found = visit(nxt)
        if found:
          return found
    stack.pop()
    state[node] = "done"
    return None

  for node in sorted(graph):
    if node not in state:
      found = visit(node)
      if found:
        return found
  return None


def test_every_package_folder_is_read():
  graph = _graph()
  assert "eggsep_tf.nes" in graph and "eggsep_tf.data.tfrecords" in graph
  assert "eggsep_tf.data.tfrecords" in graph["eggsep_tf.data.estimates"]


def test_no_import_cycles():
  cycle = _cycle(_graph())
  assert cycle is None, " -> ".join(cycle)


def test_library_imports_nothing_above_it():
  graph = _graph()
  # eggsep_tf/__init__.py (eggsep_tf.Separator, eggsep_tf.train, imported lazily) and
  # __main__.py (python -m eggsep_tf) are the namespace's front door onto export/, not
  # the library proper.
  front_door = ("eggsep_tf", "eggsep_tf.__main__")
  library = [m for m in graph if m.startswith("eggsep_tf.") and not m.startswith(UPPER)
             and m not in front_door]
  assert "eggsep_tf.nes" in library
  upward = {m: sorted(n for n in graph[m] if n.startswith(UPPER)) for m in library}
  assert not {m: v for m, v in upward.items() if v}


def test_a_cycle_is_found():
  assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
  assert _cycle({"a": {"b"}, "b": set()}) is None
