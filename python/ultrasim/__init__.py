"""ultrasim from Python: the same front door as the command line.

    import ultrasim
    r = ultrasim.run("train", model="llama3.1-405b", hw="trn2u.48xlarge", chips=16384,
                     tp=64, tp_unit="core", pp=16, gbs=2048, seq=8192)
    r["mfu"]

Every command of the CLI works; options are spelled with underscores instead of
dashes, and take what the CLI takes ("96GiB", 8, True for a flag). A bad request
raises ultrasim.Error with the exit class, file, line, field and message the CLI
prints. The library is libultrasim (built by `make`, or installed by `make
install`), called through ctypes: nothing beyond Debian's python3 is needed
except pandas for sweep() and read_sweep().
"""
import ctypes
import ctypes.util
import json
import os
import pathlib
import sqlite3
import tempfile

__all__ = ["Error", "run", "run_json", "hw", "sweep", "read_sweep", "version"]

EXIT_CLASSES = {1: "runtime failure", 2: "usage or input error"}


class Error(Exception):
    """A request ultrasim refused (exit class 2) or could not run (1)."""

    def __init__(self, status, file, line, column, field, message, text):
        super().__init__(text)
        self.status = status
        self.exit_class = EXIT_CLASSES.get(status, "error")
        self.file, self.line, self.column = file, line, column
        self.field, self.message = field, message


class _UsimError(ctypes.Structure):
    _fields_ = [
        ("status", ctypes.c_int),
        ("file", ctypes.c_char * 256),
        ("line", ctypes.c_int),
        ("column", ctypes.c_int),
        ("field", ctypes.c_char * 192),
        ("message", ctypes.c_char * 768),
    ]


def _candidates():
    """Where libultrasim may be: ULTRASIM_LIB, beside the package (an installed
    copy), the build tree this package sits in, then the system's loader."""
    here = os.path.dirname(os.path.abspath(__file__))
    explicit = os.environ.get("ULTRASIM_LIB")
    if explicit:
        yield explicit
    try:  # written by `make install`
        from ._installed import LIB
        yield LIB
    except ImportError:
        pass
    yield os.path.join(here, "libultrasim.so")
    root = os.path.dirname(os.path.dirname(here))
    yield os.path.join(root, "build", "libultrasim.so")
    found = ctypes.util.find_library("ultrasim")
    if found:
        yield found


def _load():
    tried = []
    for path in _candidates():
        if os.path.sep in path and not os.path.exists(path):
            tried.append(path)
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
            continue
        lib.usim_run.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p),
                                 ctypes.POINTER(_UsimError)]
        lib.usim_run.restype = ctypes.c_int
        lib.usim_error_format.argtypes = [ctypes.POINTER(_UsimError), ctypes.c_char_p,
                                          ctypes.c_size_t]
        lib.usim_version.restype = ctypes.c_char_p
        return lib
    raise ImportError("libultrasim not found (build it with 'make', or set ULTRASIM_LIB); "
                      "tried: " + ", ".join(tried))


_lib = _load()
_libc = ctypes.CDLL(ctypes.util.find_library("c"))
_libc.free.argtypes = [ctypes.c_void_p]


def version():
    return _lib.usim_version().decode()


def _request(command, options):
    req = {"command": command}
    for key, value in options.items():
        if value is None or value is False:
            continue
        name = key.replace("_", "-")
        if value is True or isinstance(value, (dict, list)):
            req[name] = value
        else:
            req[name] = str(value)
    return req


def run_json(command, **options):
    """The result of `ultrasim COMMAND --json` as text, byte for byte."""
    err = _UsimError()
    out = ctypes.c_void_p()
    text = json.dumps(_request(command, options), separators=(",", ":"))
    status = _lib.usim_run(text.encode(), ctypes.byref(out), ctypes.byref(err))
    if status != 0:
        line = ctypes.create_string_buffer(2048)
        _lib.usim_error_format(ctypes.byref(err), line, len(line))
        raise Error(status, err.file.decode(), err.line, err.column, err.field.decode(),
                    err.message.decode(), line.value.decode())
    try:
        return ctypes.string_at(out.value).decode()
    finally:
        _libc.free(out)


def run(command, **options):
    """Runs `ultrasim COMMAND` with options (underscores for dashes) and returns
    its result as a dict, as `--json` prints it."""
    return json.loads(run_json(command, **options))


def hw(name, **options):
    """A chip, system or network and its derived figures (`hw show NAME`)."""
    return run("hw show", name=name, **options)


def read_sweep(db):
    """The points of a sweep database as a pandas DataFrame: one row a point
    with the database's own columns (its status and reason, its inputs and
    outputs, nested ones flattened as `breakdown_tp_comm`), less the raw
    request and result JSON."""
    import pandas
    if not os.path.isfile(db):
        raise Error(2, db, 0, 0, "db", "no such sweep database",
                    "%s: no such sweep database" % db)
    # as a URI, read-only: a '?' or '#' in the path is escaped, not a query
    con = sqlite3.connect(pathlib.Path(db).absolute().as_uri() + "?mode=ro", uri=True)
    try:
        cursor = con.execute("SELECT * FROM points ORDER BY id")
        names = [c[0] for c in cursor.description]
        points = cursor.fetchall()
    except sqlite3.DatabaseError as e:
        raise Error(2, db, 0, 0, "db", "not a sweep database (%s)" % e,
                    "%s: not a sweep database (%s)" % (db, e))
    finally:
        con.close()
    frame = pandas.DataFrame(points, columns=names)
    return frame.drop(columns=[c for c in ("request", "result") if c in names])


def sweep(spec, db=None, jobs=None):
    """Runs a sweep (a dict as SPEC.json holds, or a path to one) and returns
    its rows as a pandas DataFrame; db keeps the database (default: a
    temporary one)."""
    with tempfile.TemporaryDirectory(prefix="ultrasim-sweep-") as tmp:
        path = spec
        if isinstance(spec, dict):
            path = os.path.join(tmp, "spec.json")
            with open(path, "w") as f:
                json.dump(spec, f)
        target = db or os.path.join(tmp, "runs.db")
        try:
            run("sweep", spec=path, db=target, jobs=jobs)
        except Error as e:
            if path == spec or e.file != path:
                raise
            # the temporary file is gone by the time anyone reads the error:
            # name the dict, with the line and column of its JSON form
            where = "the spec dict (as JSON: line %d, column %d)" % (e.line, e.column)
            text = str(e).replace("%s:%d:%d" % (path, e.line, e.column), where, 1)
            raise Error(e.status, "<spec dict>", e.line, e.column, e.field, e.message,
                        text.replace(path, "<spec dict>")) from None
        return read_sweep(target)
