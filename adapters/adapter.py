"""What a runtime adapter is: the interface adapters/worker.py serves, and how an adapter
declares its env options.

An adapter wraps one runtime's official Python API (ort_adapter.py, tvm_adapter.py). It
declares once, as class constants, the env options it accepts (OPTIONS: name, type, allowed
values, default, help), how opt=0..3 maps to the runtime's own levels (OPT_MAPPING) and the
devices it knows (DEVICES). capabilities() turns that declaration into the HELLO reply's
"capabilities"; Concord's WorkerBackend checks an env's options against it before MODEL and
`concord envs` shows it, so no other list of options exists. prepare() receives the env's
option values as strings and reads them with parse_options(), which raises
AdapterError("usage") naming the option and the known ones.

Framework adapters (torch, tflite, openvino, tf/keras) run models the framework reads from a
file: the MODEL request names the file ("path", "format") instead of carrying ONNX bytes, and
prepare_file() loads it and returns, besides the details, the model's "signature" (inputs and
outputs as signature_entry() dicts) so Concord can generate and bind inputs. An adapter
declares the formats it runs (FORMATS, ModelFormatName spellings of src/ir/model_format.h) in
its capabilities.

Failure contract of every method: AdapterError(kind, message) for a failure to report as
ERROR {kind, message} (the worker keeps serving); any other exception is reported as kind
"runtime" with its type and text.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from typing import Any, Callable, Literal, Optional, Protocol, Union

from concord_protocol import NamedValues, ValueMap

JsonDict = dict[str, Any]
ErrorKind = Literal["usage", "input", "unsupported", "runtime"]


class AdapterError(Exception):
    """A failure to report as ERROR {kind, message}; kind names src/ir/error.h's ErrorKind."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.message = message


@dataclass(frozen=True)
class OptionSpec:
    """One env option: an "int" in minimum..maximum, or a "str" (any text)."""

    name: str
    help: str
    type: Literal["int", "str"] = "str"
    minimum: int = 0
    maximum: int = 0
    default: Union[int, str, None] = None  # None: the runtime picks
    choices: tuple[str, ...] = ()  # a "str" option's allowed values (empty: any text)

    def allowed(self) -> str:
        """The allowed values as Concord prints them: "0..3", "0|1", "fp32|fp16", or ""
        (any)."""
        if self.type != "int":
            return "|".join(self.choices)
        if self.maximum == self.minimum + 1:
            return "%d|%d" % (self.minimum, self.maximum)
        return "%d..%d" % (self.minimum, self.maximum)

    def to_json(self) -> JsonDict:
        j: JsonDict = {"name": self.name, "type": self.type, "allowed": self.allowed(),
                       "default": "" if self.default is None else str(self.default),
                       "help": self.help}
        if self.type == "int":
            j["min"] = self.minimum
            j["max"] = self.maximum
        return j

    def parse(self, backend: str, text: str) -> Union[int, str]:
        if self.type == "str":
            if self.choices and text not in self.choices:
                raise AdapterError("usage", "%s: %s must be one of %s (got '%s')"
                                   % (backend, self.name, "|".join(self.choices), text))
            return text
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not self.minimum <= value <= self.maximum:
            raise AdapterError("usage", "%s: %s must be an integer in %d..%d (got '%s')"
                               % (backend, self.name, self.minimum, self.maximum, text))
        return value


class Options:
    """Typed option values: those the env gave, else each declared default."""

    def __init__(self, values: dict[str, Union[int, str, None]]) -> None:
        self._values = values

    def get_int(self, name: str) -> int:
        value = self._values[name]
        if not isinstance(value, int):
            raise TypeError("option '%s' is not an integer option with a default" % name)
        return value

    def get_str(self, name: str) -> str | None:
        value = self._values[name]
        return None if value is None else str(value)


def parse_options(backend: str, specs: tuple[OptionSpec, ...],
                  options: dict[str, str]) -> Options:
    """Reads an env's options against the declaration; AdapterError("usage") names an unknown
    option (listing the known ones) or a bad value."""
    known = {s.name: s for s in specs}
    for name in options:
        if name not in known:
            raise AdapterError("usage", "%s does not know option '%s' (known: %s)"
                               % (backend, name, ", ".join(known)))
    values: dict[str, Union[int, str, None]] = {}
    for spec in specs:
        values[spec.name] = (spec.parse(backend, options[spec.name]) if spec.name in options
                             else spec.default)
    return Options(values)


def describe_capabilities(specs: tuple[OptionSpec, ...], opt_mapping: str,
                          devices: tuple[str, ...], available_devices: list[str],
                          taps: bool, formats: tuple[str, ...] = ("onnx",),
                          unavailable: Optional[dict[str, str]] = None) -> JsonDict:
    """The HELLO reply's "capabilities" for an adapter's declaration. `unavailable` says why
    each declared device missing from `available_devices` cannot run here ("no CUDA device:
    ..."); Concord's error for such an env carries it."""
    return {"taps": taps, "options": [s.to_json() for s in specs], "opt_mapping": opt_mapping,
            "devices": list(devices), "available_devices": available_devices,
            "formats": list(formats), "unavailable_devices": dict(unavailable or {})}


def signature_entry(name: str, dtype: str, shape: Optional[list[Optional[int]]]) -> JsonDict:
    """One input or output of a MODEL reply's "signature": dtype as NumPy names it ("float32";
    "" when unknown), shape with None (or -1) for an unknown dim, None for an unknown rank."""
    dims = None if shape is None else [None if d is None or d < 0 else int(d) for d in shape]
    return {"name": name, "dtype": dtype, "shape": dims}


def emitted_run_error(framework: str, what: str, eager_failed: Optional[ErrorKind],
                      rerun_eager: Callable[[], object], compiled: str,
                      eager_limit: Optional[int] = None) -> AdapterError:
    """A failed run of an ONNX model emitted as framework code (torch_emit, tf_emit), classified.
    `what` is the failure; `eager_failed` the kind to report when the run that failed was the
    eager one itself (None: the compiled one). A compiled run is retried eagerly: when eager
    fails too the model is "unsupported" there (a dtype without a kernel); otherwise the
    failure is the compiler's (`compiled` names what was compiled: "module", "function")."""
    if eager_failed is not None:
        return AdapterError(eager_failed, "eager %s cannot run the emitted model: %s"
                            % (framework, what))
    try:
        rerun_eager()
    except Exception as e:
        return AdapterError("unsupported", "eager %s cannot run the emitted model either: %s: %s"
                            % (framework, type(e).__name__, str(e)[:eager_limit]))
    return AdapterError("runtime", "the compiled %s failed where eager %s runs: %s"
                        % (compiled, framework, what))


def package_version(name: str) -> str:
    """The installed version of a distribution, or "?" (versions() must not import runtimes)."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "?"


class Adapter(Protocol):
    """The interface adapters/worker.py serves. Adapters subclass it explicitly to inherit the
    defaults of run_taps, runtime_stats and close."""

    supports_taps: bool

    def capabilities(self) -> JsonDict:
        """The declaration sent in HELLO (describe_capabilities of the class constants)."""
        ...

    def versions(self) -> dict[str, str]:
        """Versions of the runtime and of the Python packages it uses, "python" included."""
        ...

    def prepare(self, model: bytes, device: str, options: dict[str, str]) -> JsonDict:
        """Loads (compiles) `model` for `device` with the env's options; returns the MODEL
        reply's details, with "effective_env" where the adapter resolved defaults."""
        raise AdapterError("unsupported", "this runtime takes framework model files, not ONNX")

    def prepare_file(self, path: str, fmt: str, device: str,
                     options: dict[str, str]) -> JsonDict:
        """Loads the framework model file (or folder) `path` of format `fmt` for `device`;
        returns the MODEL reply's details with "signature": {"inputs": [...], "outputs": [...]}
        (signature_entry dicts, in the order run() takes and returns them)."""
        raise AdapterError("unsupported", "this runtime takes ONNX models, not %s files" % fmt)

    def run(self, inputs: ValueMap) -> tuple[NamedValues, float]:
        """Runs the prepared model once: ([(output name, value)], milliseconds of the runtime's
        own call)."""
        ...

    def run_taps(self, inputs: ValueMap) -> NamedValues:
        """Every intermediate tensor, by name (adapters with supports_taps)."""
        raise AdapterError("unsupported", "this runtime cannot return intermediate tensors")

    def runtime_stats(self) -> JsonDict:
        """Extra STATS fields measured by the runtime itself; none by default."""
        return {}

    def close(self) -> None:
        """Releases the runtime's resources; the worker calls it once when it ends."""
        return None
