//! What `check` is asked about: the support tables (embedded or `--table BACKEND=PATH`) and the model words.

use super::Args;
use crate::cmd::{fetcher, manifest, zoo_names};
use crate::exit::{BAD_MODEL, USAGE, fail};
use anyhow::Result;
use edgebench_backend_api::Registry;
use edgebench_compat::SupportTable;

pub(super) fn tables(a: &Args, registry: &Registry) -> Result<Vec<(String, SupportTable)>> {
    let names: Vec<String> = if a.backend.is_empty() {
        // Split backends have no table of their own: `check` judges their parts; litert-ref (LiteRT's reference
        // kernels, the probe's oracle) has none either.
        edgebench_bench::machine::available_single(registry)
            .into_iter()
            .filter(|b| edgebench_compat::embedded_ref(b).is_some())
            .collect()
    } else {
        a.backend
            .iter()
            .map(|b| match registry.get(b) {
                Ok(x) => Ok(x.name().to_string()),
                Err(edgebench_backend_api::RegistryError::NotCompiled { name, .. }) => Ok(name),
                Err(e) => Err(fail(USAGE, e)),
            })
            .collect::<Result<_>>()?
    };
    edgebench_compat::tables_for(&names, &a.table).map_err(|e| fail(USAGE, e))
}

pub(super) fn model_args(a: &Args) -> Result<Vec<String>> {
    let mut out = a.models.clone();
    let f = fetcher();
    let m = manifest();
    if a.zoo {
        out.extend(zoo_names()?);
    }
    if a.light {
        let dir = f
            .cache
            .join(format!("onnx-conformance-{}", m.conformance.version))
            .join("light");
        let mut light: Vec<String> = std::fs::read_dir(&dir)
            .map_err(|_| {
                fail(
                    BAD_MODEL,
                    format!(
                        "--light: {} missing (run `edgebench models fetch onnx-conformance`)",
                        dir.display()
                    ),
                )
            })?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "onnx"))
            .map(|p| p.display().to_string())
            .collect();
        light.sort();
        out.extend(light);
    }
    if out.is_empty() {
        return Err(fail(USAGE, "check: give MODEL..., --zoo or --light"));
    }
    Ok(out)
}
