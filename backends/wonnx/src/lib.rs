//! wonnx on wgpu (Vulkan / Metal / DX12). In tests it runs on Mesa lavapipe, a software Vulkan: the adapter's
//! name, driver and `software` flag are reported so no one mistakes lavapipe timings for a GPU's.

use edgebench_backend_api::*;
use edgebench_graph::{DataType, Dim};
use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

const NAME: &str = "wonnx";
/// wonnx's version, as resolved in Cargo.lock.
pub const VERSION: &str = "0.5.1";

/// The wonnx backend.
#[derive(Debug, Default)]
pub struct Wonnx;

/// The adapter wgpu picks the way wonnx does (honouring `WGPU_BACKEND` and `WGPU_ADAPTER_NAME`).
#[derive(Clone, Debug)]
pub struct AdapterInfo {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    pub driver_info: String,
    /// A CPU implementation (lavapipe, SwiftShader, WARP): timings say nothing about a GPU.
    pub software: bool,
}

static ADAPTER: OnceLock<Result<AdapterInfo, String>> = OnceLock::new();

/// Finds the adapter wonnx would use, once per process.
pub fn adapter() -> Result<AdapterInfo, String> {
    ADAPTER
        .get_or_init(|| {
            catch_panic(|| {
                let backends = wgpu::util::backend_bits_from_env().unwrap_or(wgpu::Backends::PRIMARY);
                let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
                    backends,
                    dx12_shader_compiler: wgpu::Dx12Compiler::Fxc,
                });
                let adapter =
                    pollster::block_on(wgpu::util::initialize_adapter_from_env_or_default(&instance, backends, None))
                        .ok_or_else(|| {
                            format!(
                                "no wgpu adapter found for backends {backends:?} (on Linux install a Vulkan driver, e.g. Debian's mesa-vulkan-drivers and libvulkan1)"
                            )
                        })?;
                let i = adapter.get_info();
                Ok(AdapterInfo {
                    name: i.name,
                    backend: format!("{:?}", i.backend),
                    device_type: format!("{:?}", i.device_type),
                    driver: i.driver,
                    driver_info: i.driver_info,
                    software: i.device_type == wgpu::DeviceType::Cpu,
                })
            })
        })
        .clone()
}

impl Backend for Wonnx {
    fn name(&self) -> &'static str {
        NAME
    }
    fn device(&self) -> edgebench_backend_api::Device {
        edgebench_backend_api::Device::Gpu
    }

    fn availability(&self) -> Availability {
        match adapter() {
            Ok(a) => Availability::Available {
                version: VERSION.into(),
                details: vec![
                    ("adapter".into(), a.name),
                    ("wgpu backend".into(), a.backend),
                    ("device type".into(), a.device_type),
                    (
                        "driver".into(),
                        format!("{} {}", a.driver, a.driver_info).trim().to_string(),
                    ),
                    ("software".into(), a.software.to_string()),
                ],
            },
            Err(reason) => Availability::Unavailable { reason },
        }
    }

    fn load(&self, path: &Path, inputs: &[InputSpec]) -> Result<Box<dyn Session>, BackendError> {
        adapter().map_err(|reason| BackendError::Unavailable {
            backend: NAME.into(),
            reason,
        })?;
        let load_err = |m: String| BackendError::Load {
            backend: NAME.into(),
            message: m,
        };
        // wonnx returns flat buffers; output shapes come from the model's declared output shapes.
        let model = edgebench_graph::load(path).map_err(|e| load_err(e.to_string()))?;
        let mut outputs = vec![];
        for o in &model.graph.outputs {
            let shape =
                o.ty.as_ref()
                    .and_then(|t| t.as_tensor())
                    .and_then(|(_, s)| s)
                    .and_then(|s| s.iter().map(Dim::value).collect::<Option<Vec<u64>>>())
                    .ok_or_else(|| {
                        load_err(format!(
                            "output `{}` has no static shape; wonnx needs inferred shapes",
                            o.name
                        ))
                    })?;
            outputs.push((
                o.name.clone(),
                shape.into_iter().map(|d| d as usize).collect::<Vec<_>>(),
            ));
        }
        for i in inputs {
            if !matches!(
                i.dtype,
                DataType::Float | DataType::Int32 | DataType::Int64 | DataType::Uint8
            ) {
                return Err(BackendError::Unsupported {
                    backend: NAME.into(),
                    message: format!(
                        "input `{}`: wonnx takes float32/int32/int64/uint8, not {}",
                        i.name, i.dtype
                    ),
                });
            }
        }
        let p = path.to_path_buf();
        let session = catch_panic(|| {
            pollster::block_on(wonnx::Session::from_path(&p)).map_err(|e| e.to_string())
        })
        .map_err(load_err)?;
        Ok(Box::new(WonnxRun { session, outputs }))
    }
}

struct WonnxRun {
    session: wonnx::Session,
    outputs: Vec<(String, Vec<usize>)>,
}

impl Session for WonnxRun {
    fn run(
        &mut self,
        inputs: &[(String, HostTensor)],
    ) -> Result<Vec<(String, HostTensor)>, BackendError> {
        use wonnx::utils::{InputTensor, OutputTensor};
        let run_err = |m: String| BackendError::Run {
            backend: NAME.into(),
            message: m,
        };
        let mut feed: HashMap<String, InputTensor<'_>> = HashMap::new();
        for (n, t) in inputs {
            let v: InputTensor<'_> = match &t.data {
                Data::F32(v) => v.as_slice().into(),
                Data::I32(v) => v.as_slice().into(),
                Data::I64(v) => v.as_slice().into(),
                Data::U8(v) => InputTensor::U8(std::borrow::Cow::Borrowed(v.as_slice())),
                _ => {
                    return Err(run_err(format!(
                        "input `{n}`: dtype {} not accepted by wonnx",
                        t.dtype()
                    )));
                }
            };
            feed.insert(n.clone(), v);
        }
        let session = &self.session;
        let mut out =
            catch_panic(|| pollster::block_on(session.run(&feed)).map_err(|e| e.to_string()))
                .map_err(run_err)?;
        self.outputs
            .iter()
            .map(|(n, shape)| {
                let v = out
                    .remove(n)
                    .ok_or_else(|| run_err(format!("output `{n}` missing")))?;
                let data = match v {
                    OutputTensor::F32(v) => Data::F32(v),
                    OutputTensor::I32(v) => Data::I32(v),
                    OutputTensor::I64(v) => Data::I64(v),
                    OutputTensor::U8(v) => Data::U8(v),
                };
                let t = HostTensor {
                    shape: shape.clone(),
                    data,
                };
                if t.len() != shape.iter().product::<usize>() {
                    return Err(run_err(format!(
                        "output `{n}`: {} values for declared shape {shape:?}",
                        t.len()
                    )));
                }
                Ok((n.clone(), t))
            })
            .collect()
    }
}
