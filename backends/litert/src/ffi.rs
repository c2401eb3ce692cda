//! The part of LiteRT's C API (`litert/c/*.h`, google-ai-edge/LiteRT) edgebench calls, loaded with `libloading`.
//! Struct layouts follow the headers' ABI asserts (sizes 72, 24 and the profiler event's).

#![allow(non_snake_case)]

use std::ffi::{c_char, c_int, c_void};

pub type Handle = *mut c_void;
pub type Status = c_int;

pub const MAX_RANK: usize = 8;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    /// `rank : 7`, `has_strides : 1` packed in one `unsigned int`.
    pub bits: u32,
    pub dimensions: [i32; MAX_RANK],
    pub strides: [u32; MAX_RANK],
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RankedTensorType {
    pub element_type: c_int,
    pub layout: Layout,
}

impl RankedTensorType {
    pub fn dims(&self) -> Vec<i64> {
        let rank = (self.layout.bits & 0x7f) as usize;
        self.layout.dimensions[..rank.min(MAX_RANK)]
            .iter()
            .map(|d| *d as i64)
            .collect()
    }
}

#[repr(C)]
pub struct Any {
    pub ty: c_int,
    pub value: u64,
}

#[repr(C)]
pub struct EnvOption {
    pub tag: c_int,
    pub value: Any,
}

pub const ENV_RUNTIME_LIBRARY_DIR: c_int = 22;
pub const ANY_STRING: c_int = 8;

pub const HW_CPU: c_int = 1;
pub const HW_GPU: c_int = 2;
pub const BUFFER_HOST_MEMORY: c_int = 1;
pub const LOCK_READ: c_int = 0;
pub const LOCK_WRITE: c_int = 1;

/// `LiteRtProfilerEventType`
pub const EVENT_OPERATOR_INVOKE: u32 = 1 << 1;
pub const EVENT_DELEGATE_OPERATOR_INVOKE: u32 = 1 << 2;
pub const EVENT_DELEGATE_PROFILED_OPERATOR_INVOKE: u32 = 1 << 3;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct MemoryUsage {
    pub total: usize,
    pub in_use: usize,
    pub private: usize,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ProfiledEvent {
    pub tag: *const c_char,
    pub event_type: u32,
    pub start_us: u64,
    pub elapsed_us: u64,
    pub begin_mem: MemoryUsage,
    pub end_mem: MemoryUsage,
    pub metadata1: u64,
    pub metadata2: u64,
    pub source: c_int,
}

/// The name of a `LiteRtStatus` (the library does not export `LiteRtGetStatusString`).
pub fn status_name(s: Status) -> &'static str {
    match s {
        0 => "ok",
        1 => "invalid argument",
        2 => "memory allocation failure",
        3 => "runtime failure",
        4 => "missing input tensor",
        5 => "unsupported",
        6 => "not found",
        7 => "timeout expired",
        8 => "wrong version",
        9 => "unknown error",
        10 => "already exists",
        100 => "cancelled",
        500 => "file I/O error",
        501 => "invalid flatbuffer",
        502 => "dynamic loading error",
        503 => "serialization error",
        504 => "compilation error",
        1000 => "index out of bounds",
        1001 => "invalid IR type",
        1002 => "invalid graph invariant",
        1003 => "graph modification error",
        1500 => "invalid tool config",
        _ => "unrecognised status",
    }
}

macro_rules! api {
    ($( $name:ident : fn($($arg:ty),*) $(-> $ret:ty)? ; )*) => {
        /// Function pointers resolved from `libLiteRt.so`; the library stays loaded as long as this lives.
        #[allow(non_snake_case)]
        pub struct Api {
            $( pub $name: unsafe extern "C" fn($($arg),*) $(-> $ret)?, )*
            _lib: libloading::Library,
        }
        impl Api {
            /// Loads the library and resolves every function, or says which one is missing.
            pub fn load(path: &std::path::Path) -> Result<Api, String> {
                // SAFETY: loading runs the library's initialisers; it is the library the user or set-up named.
                // Each symbol's type is the C API's declaration above.
                unsafe {
                    let lib = libloading::Library::new(path)
                        .map_err(|e| format!("cannot load {}: {e}", path.display()))?;
                    $(
                        let $name = *lib
                            .get::<unsafe extern "C" fn($($arg),*) $(-> $ret)?>(concat!(stringify!($name), "\0").as_bytes())
                            .map_err(|_| format!(
                                "{} does not export {}: not a LiteRT library of the C API this build needs",
                                path.display(),
                                stringify!($name)
                            ))?;
                    )*
                    Ok(Api { $( $name, )* _lib: lib })
                }
            }
        }
    };
}

api! {
    LiteRtCreateEnvironment: fn(c_int, *const EnvOption, *mut Handle) -> Status;
    LiteRtDestroyEnvironment: fn(Handle);
    LiteRtCreateModelFromFile: fn(Handle, *const c_char, *mut Handle) -> Status;
    LiteRtDestroyModel: fn(Handle);
    LiteRtCreateOptions: fn(*mut Handle) -> Status;
    LiteRtDestroyOptions: fn(Handle);
    LiteRtSetOptionsHardwareAccelerators: fn(Handle, c_int) -> Status;
    LiteRtCreateOpaqueOptions: fn(*const c_char, *mut c_void, Option<unsafe extern "C" fn(*mut c_void)>, *mut Handle) -> Status;
    LiteRtAddOpaqueOptions: fn(Handle, Handle) -> Status;
    LiteRtCreateCompiledModel: fn(Handle, Handle, Handle, *mut Handle) -> Status;
    LiteRtDestroyCompiledModel: fn(Handle);
    LiteRtRunCompiledModel: fn(Handle, usize, usize, *mut Handle, usize, *mut Handle) -> Status;
    LiteRtCompiledModelIsFullyAccelerated: fn(Handle, *mut bool) -> Status;
    LiteRtCompiledModelGetErrorMessages: fn(Handle, *mut *mut c_char) -> Status;
    LiteRtGetModelSignature: fn(Handle, usize, *mut Handle) -> Status;
    LiteRtGetNumSignatureInputs: fn(Handle, *mut usize) -> Status;
    LiteRtGetNumSignatureOutputs: fn(Handle, *mut usize) -> Status;
    LiteRtGetSignatureInputName: fn(Handle, usize, *mut *const c_char) -> Status;
    LiteRtGetSignatureOutputName: fn(Handle, usize, *mut *const c_char) -> Status;
    LiteRtGetSignatureInputTensorByIndex: fn(Handle, usize, *mut Handle) -> Status;
    LiteRtGetSignatureOutputTensorByIndex: fn(Handle, usize, *mut Handle) -> Status;
    LiteRtGetTensorName: fn(Handle, *mut *const c_char) -> Status;
    LiteRtGetRankedTensorType: fn(Handle, *mut RankedTensorType) -> Status;
    LiteRtCreateManagedTensorBuffer: fn(Handle, c_int, *const RankedTensorType, usize, *mut Handle) -> Status;
    LiteRtDestroyTensorBuffer: fn(Handle);
    LiteRtLockTensorBuffer: fn(Handle, *mut *mut c_void, c_int) -> Status;
    LiteRtUnlockTensorBuffer: fn(Handle) -> Status;
    LiteRtCompiledModelGetProfiler: fn(Handle, *mut Handle) -> Status;
    LiteRtStartProfiler: fn(Handle) -> Status;
    LiteRtStopProfiler: fn(Handle) -> Status;
    LiteRtResetProfiler: fn(Handle) -> Status;
    LiteRtGetNumProfilerEvents: fn(Handle, *mut c_int) -> Status;
    LiteRtGetProfilerEvents: fn(Handle, c_int, *mut ProfiledEvent) -> Status;
}
