"""ctypes binding of libtilefuse.so's C API (runtime/include/tilefuse/tilefuse_c.h).

Why ctypes over the C ABI (and not nanobind or a torch C++ extension): the C API already exists and
is stable; a ctypes binding compiles nothing against Python or PyTorch, so one wheel serves every
CPython 3.9+ and every PyTorch version (no libtorch C++ ABI, no ``_GLIBCXX_USE_CXX11_ABI`` match);
the package has no build-time dependency but CMake. Tensors cross as ``data_ptr()`` integers and
strides, the stream as ``torch.cuda.current_stream().cuda_stream``. The cost is a few hundred
nanoseconds of ctypes per launch: ``_ops.Plan`` fills an argument struct once per operand layout and
then writes only the data pointers into it.

The library is found, in order: ``$TILEFUSE_LIBRARY`` (a path to libtilefuse.so), the copy installed
in this package (``tilefuse/lib/libtilefuse.so``, next to ``tilefuse/share/tilefuse/device``, which
the library finds on its own), then the system loader's search path.
"""

from __future__ import annotations

import ctypes
import os
import threading

_HERE = os.path.dirname(os.path.abspath(__file__))

OK = 0
INVALID_ARGUMENT, NO_GPU, CUDA, SPEC, COMPILE, UNSUPPORTED, CACHE_MISS, LAUNCH = 1, 2, 3, 4, 5, 6, 7, 8

POLICIES = {"heuristic": 0, "tune": 1, "cache": 2}

ABI_VERSION = "0.2.0"  # tilefuse_c.h's layout this binding mirrors (major.minor must match)


class TilefuseError(RuntimeError):
    """A failed C API call; ``status`` is the tilefuse_status_t name ("TILEFUSE_ERROR_SPEC", ...)."""

    def __init__(self, status: str, message: str):
        super().__init__(f"{status}: {message}")
        self.status = status


class NoGpuError(TilefuseError):
    """No CUDA driver (libcuda.so.1) or no device."""


class SpecError(TilefuseError, ValueError):
    """The spec (or the shape it is asked for) is invalid; the message says field and position."""


class UnsupportedError(TilefuseError, ValueError):
    """The code generator cannot build this spec / shape (e.g. an unsupported head dim)."""


_ERROR_CLASS = {NO_GPU: NoGpuError, SPEC: SpecError, UNSUPPORTED: UnsupportedError}


class Shape(ctypes.Structure):
    _fields_ = [(n, ctypes.c_int64) for n in ("B", "Hq", "Hkv", "Sq", "Sk", "D", "Dv")]


class TensorArg(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("batch_stride", ctypes.c_int64),
                ("head_stride", ctypes.c_int64), ("row_stride", ctypes.c_int64)]


class CaptureArg(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("strides", ctypes.POINTER(ctypes.c_int64))]


class HostCapture(ctypes.Structure):
    """tilefuse_host_capture_t: a dense host copy of one captured tensor (for the tuner's lookup and tuning)."""
    _fields_ = [("data", ctypes.c_void_p), ("bytes", ctypes.c_size_t)]


class AttentionArgs(ctypes.Structure):
    _fields_ = [("B", ctypes.c_int64), ("Hq", ctypes.c_int64), ("Hkv", ctypes.c_int64),
                ("Sq", ctypes.c_int64), ("Sk", ctypes.c_int64),
                ("q", TensorArg), ("k", TensorArg), ("v", TensorArg), ("o", TensorArg),
                ("lse", ctypes.c_void_p), ("lse_batch_stride", ctypes.c_int64),
                ("lse_head_stride", ctypes.c_int64),
                ("captures", ctypes.POINTER(CaptureArg)), ("num_captures", ctypes.c_size_t)]


class KernelInfo(ctypes.Structure):
    _fields_ = [("spec_name", ctypes.c_char_p), ("kernel_name", ctypes.c_char_p), ("arch", ctypes.c_char_p),
                ("schedule_json", ctypes.c_char_p), ("grid", ctypes.c_char_p),
                ("threads_per_block", ctypes.c_int), ("dynamic_smem_bytes", ctypes.c_size_t),
                ("registers", ctypes.c_int), ("compile_ms", ctypes.c_double), ("load_ms", ctypes.c_double),
                ("origin", ctypes.c_char_p)]


def library_path() -> str:
    """Where libtilefuse.so is loaded from (see the module docstring)."""
    env = os.environ.get("TILEFUSE_LIBRARY")
    if env:
        return env
    for name in ("libtilefuse.so", "libtilefuse.so.0.2"):
        p = os.path.join(_HERE, "lib", name)
        if os.path.exists(p):
            return p
    return "libtilefuse.so"


_lib = None
_lib_lock = threading.Lock()


def lib() -> ctypes.CDLL:
    """The loaded library with argument types declared (loaded on first use)."""
    global _lib
    if _lib is not None:
        return _lib
    with _lib_lock:
        if _lib is None:
            path = library_path()
            try:
                L = ctypes.CDLL(path)
            except OSError as e:
                raise ImportError(f"tilefuse: cannot load the native library {path}: {e}. Reinstall the "
                                  "package (pip install .) or set TILEFUSE_LIBRARY to libtilefuse.so") from e
            L.tilefuse_last_error.restype = ctypes.c_char_p
            L.tilefuse_status_string.restype = ctypes.c_char_p
            L.tilefuse_status_string.argtypes = [ctypes.c_int]
            L.tilefuse_version.restype = ctypes.c_char_p
            L.tilefuse_engine_create.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_void_p)]
            L.tilefuse_engine_destroy.argtypes = [ctypes.c_void_p]
            L.tilefuse_engine_destroy.restype = None
            L.tilefuse_get_kernel_json.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(Shape),
                                                   ctypes.c_int, ctypes.POINTER(ctypes.c_void_p)]
            L.tilefuse_get_kernel_captures.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p,
                                                       ctypes.POINTER(Shape), ctypes.c_int,
                                                       ctypes.POINTER(HostCapture), ctypes.c_size_t,
                                                       ctypes.POINTER(ctypes.c_void_p)]
            L.tilefuse_kernel_info.argtypes = [ctypes.c_void_p, ctypes.POINTER(KernelInfo)]
            L.tilefuse_launch.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(AttentionArgs),
                                          ctypes.c_void_p]
            # The per-call path (_ops.Plan): every argument an address as an int, no conversion objects.
            L.tilefuse_launch_raw = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
                                                     ctypes.c_void_p, ctypes.c_void_p)(("tilefuse_launch", L))
            L.tilefuse_kernel_block_mask.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
            L.tilefuse_clear_block_masks.argtypes = [ctypes.c_void_p]
            for f in ("tilefuse_engine_create", "tilefuse_get_kernel_json", "tilefuse_get_kernel_captures",
                      "tilefuse_kernel_info",
                      "tilefuse_launch", "tilefuse_kernel_block_mask", "tilefuse_clear_block_masks"):
                getattr(L, f).restype = ctypes.c_int
            # The structs above mirror tilefuse_c.h of this version; another library's may differ.
            have = L.tilefuse_version().decode()
            if have.split(".")[:2] != ABI_VERSION.split(".")[:2]:
                raise ImportError(f"tilefuse: {path} is version {have}; this package speaks the C API of "
                                  f"{ABI_VERSION} (reinstall the package or point TILEFUSE_LIBRARY at a match)")
            _lib = L
    return _lib


def check(status: int) -> None:
    """Raises the TilefuseError subclass for a failed status, with tilefuse_last_error()."""
    if status == OK:
        return
    L = lib()
    name = L.tilefuse_status_string(status).decode()
    message = L.tilefuse_last_error().decode(errors="replace")
    raise _ERROR_CLASS.get(status, TilefuseError)(name, message)


def version() -> str:
    """The native library's version ("0.2.0")."""
    return lib().tilefuse_version().decode()


class Engine:
    """One tilefuse_engine_t per CUDA device (its primary context, the one PyTorch uses)."""

    def __init__(self, device: int):
        self.device = device
        handle = ctypes.c_void_p()
        check(lib().tilefuse_engine_create(device, ctypes.byref(handle)))
        self.handle = handle
        self.kernels = {}  # (spec json, B, Hq, Hkv, Sq, Sk, D, Dv, policy) -> kernel handle (int)
        self.lock = threading.Lock()
        self.block_masks = BlockMaskGuard(self.clear_block_masks)

    def kernel(self, spec_json: str, shape: tuple, policy: str, host_captures=None) -> int:
        """The kernel handle for a spec (JSON text) at ``shape`` = (B, Hq, Hkv, Sq, Sk, D, Dv),
        memoized here by exact shape (the engine itself memoizes by shape bucket).

        ``host_captures``: dense, contiguous CPU tensors of the spec's captures in spec order, or None.
        Under the tune and cache policies the engine then looks the schedule up for, and tunes it on, their
        mask density class (tilefuse_get_kernel_captures); the heuristic policy ignores them. Only the first
        call of a (spec, shape, policy) passes them: later calls reuse its kernel."""
        key = (spec_json, shape, policy)
        k = self.kernels.get(key)
        if k is not None:
            return k
        with self.lock:
            k = self.kernels.get(key)
            if k is None:
                out = ctypes.c_void_p()
                s = Shape(*shape)
                if host_captures and policy != "heuristic":
                    arr = (HostCapture * len(host_captures))(
                        *[HostCapture(c.data_ptr(), c.numel() * c.element_size()) for c in host_captures])
                    check(lib().tilefuse_get_kernel_captures(self.handle, None, spec_json.encode(), ctypes.byref(s),
                                                              POLICIES[policy], arr, len(host_captures),
                                                              ctypes.byref(out)))
                else:
                    check(lib().tilefuse_get_kernel_json(self.handle, spec_json.encode(), ctypes.byref(s),
                                                          POLICIES[policy], ctypes.byref(out)))
                k = out.value
                self.kernels[key] = k
        return k

    def has_block_mask(self, kernel: int) -> bool:
        """Whether ``kernel`` runs with a run-time block mask (its mask_mod reads a captured tensor)."""
        out = ctypes.c_int()
        check(lib().tilefuse_kernel_block_mask(kernel, ctypes.byref(out)))
        return bool(out.value)

    def clear_block_masks(self) -> None:
        """Forgets the engine's run-time block masks, after waiting for all work on the device."""
        check(lib().tilefuse_clear_block_masks(self.handle))

    def info(self, kernel: int) -> dict:
        i = KernelInfo()
        check(lib().tilefuse_kernel_info(kernel, ctypes.byref(i)))
        return {f: (getattr(i, f).decode() if isinstance(getattr(i, f), bytes) else getattr(i, f))
                for f, _ in KernelInfo._fields_}


class BlockMaskGuard:
    """Keeps an engine's run-time block masks true to the captured tensors' contents.

    The engine builds a kernel's block mask on the first launch for given capture addresses, strides and
    sizes, and reuses it for every later launch with the same key: the key does not see the contents
    (tilefuse_c.h). PyTorch can put new contents at an address, by an in-place write or by handing a freed
    tensor's memory to a new one, and the kernel would then skip the tiles of the old mask: a wrong
    result, silently. So, for every key launched through this package, the guard holds the capture tensors
    (their memory cannot go to another tensor while the mask lives) and their version counters (PyTorch
    bumps a tensor's counter, shared with its views, on every in-place write). A launch whose captures
    have another version than the kept mask's clears the engine's masks (``clear``: a device
    synchronization, then the engine builds the mask again at this launch). Writes that bypass PyTorch
    (a foreign kernel writing through data_ptr()) are not seen: call ``tilefuse.clear_block_masks()``.
    At most ``limit`` keys, and captures of at most ``limit_bytes`` in all (their storages, which the
    guard keeps alive), are held; past either the masks are cleared and the guard starts over."""

    def __init__(self, clear, limit: int = 64, limit_bytes: int = 256 << 20):
        self.clear = clear
        self.limit = limit
        self.limit_bytes = limit_bytes
        self.held_bytes = 0
        self.entries = {}  # (kernel, sizes, capture addresses) -> (captures, versions)
        self.lock = threading.Lock()

    def check(self, kernel: int, sizes: tuple, captures) -> None:
        """Call before launching ``kernel`` (one with a run-time block mask) with ``captures``. The key
        leaves out the strides the engine's key has: views of one storage at one address share its
        version counter, and a clear drops every mask. About 0.7 us for one capture (CPU stub)."""
        if len(captures) == 1:  # the common case (document ids), without the tuples
            c = captures[0]
            key, versions = (kernel, sizes, c.data_ptr()), c._version
        else:
            key = (kernel, sizes, tuple([c.data_ptr() for c in captures]))
            versions = tuple([c._version for c in captures])
        entry = self.entries.get(key)
        if entry is not None and entry[1] == versions:
            return
        with self.lock:
            entry = self.entries.get(key)
            if entry is not None and entry[1] == versions:
                return
            size = sum(c.untyped_storage().nbytes() for c in captures)
            if (entry is not None or len(self.entries) >= self.limit
                    or (self.entries and self.held_bytes + size > self.limit_bytes)):
                self.clear()  # the engine's mask for this key is stale, or the guard is full
                self.entries.clear()
                self.held_bytes = 0
            self.entries[key] = (tuple(captures), versions)
            self.held_bytes += size


_engines = {}
_engines_lock = threading.Lock()


def engine(device: int) -> Engine:
    """The engine of CUDA device ``device``, made on first use and kept for the process."""
    e = _engines.get(device)
    if e is None:
        with _engines_lock:
            e = _engines.get(device)
            if e is None:
                e = Engine(device)
                _engines[device] = e
    return e
