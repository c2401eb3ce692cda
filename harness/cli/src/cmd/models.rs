//! `edgebench models list|fetch`.

use super::{bytes, fetcher, manifest, print_json};
use crate::exit::{FETCH_FAILED, USAGE, fail};
use anyhow::Result;
use edgebench_models::FetchOutcome;

/// The name that selects the ONNX conformance data in `models fetch`.
pub const CONFORMANCE: &str = "onnx-conformance";

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// The zoo: name, package, licence, size, whether cached.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Downloads models (and `onnx-conformance`) into the cache, verifying sha256; a no-op for what is already
    /// there. Without names: every zoo model and the conformance data.
    Fetch {
        /// Zoo model names, or `onnx-conformance`.
        names: Vec<String>,
    },
}

pub fn run(c: Command) -> Result<()> {
    let manifest = manifest();
    let f = fetcher();
    match c {
        Command::List { json } => {
            let rows: Vec<serde_json::Value> = manifest
                .model
                .iter()
                .map(|z| {
                    serde_json::json!({
                        "name": z.name, "registry": format!("{:?}", z.registry).to_lowercase(), "package": z.package,
                        "version": z.version, "member": z.member, "licence": z.licence, "bytes": z.bytes,
                        "sha256": z.sha256, "feed": z.feed, "about": z.about,
                        "cached": f.cached(z).map(|p| p.display().to_string()),
                    })
                })
                .collect();
            if json {
                return print_json(&rows);
            }
            for z in &manifest.model {
                println!(
                    "{:22} {:>10}  {:8} {}=={} ({:?})  {}  {}",
                    z.name,
                    bytes(z.bytes),
                    if f.cached(z).is_some() { "cached" } else { "-" },
                    z.package,
                    z.version,
                    z.registry,
                    z.licence,
                    z.about
                );
            }
            println!("cache: {}", f.cache.display());
            Ok(())
        }
        Command::Fetch { names } => {
            let mut want: Vec<&str> = names.iter().map(String::as_str).collect();
            if want.is_empty() {
                want = manifest.names();
                want.push(CONFORMANCE);
            }
            for n in &want {
                if *n != CONFORMANCE && manifest.get(n).is_none() {
                    return Err(fail(
                        USAGE,
                        format!(
                            "{n}: unknown zoo model (known: {}, {CONFORMANCE})",
                            manifest.names().join(", ")
                        ),
                    ));
                }
            }
            let mut failures = vec![];
            for n in want {
                if n == CONFORMANCE {
                    match f.fetch_conformance(&manifest.conformance) {
                        Ok(c) => println!(
                            "{CONFORMANCE:22} {} {} node tests, {} light models in {}",
                            if c.downloaded { "fetched" } else { "cached " },
                            c.node_tests,
                            c.light_models,
                            c.node_dir
                                .parent()
                                .map(|p| p.display().to_string())
                                .unwrap_or_default()
                        ),
                        Err(e) => {
                            eprintln!("edgebench: {e}");
                            failures.push(n.to_string());
                        }
                    }
                    continue;
                }
                let z = manifest
                    .get(n)
                    .ok_or_else(|| fail(USAGE, format!("{n}: unknown zoo model")))?;
                match f.fetch(z) {
                    Ok(FetchOutcome::Cached(p)) => println!("{n:22} cached  {}", p.display()),
                    Ok(FetchOutcome::Downloaded(p)) => {
                        println!("{n:22} fetched {} (sha256 ok)", p.display())
                    }
                    Err(e) => {
                        eprintln!("edgebench: {e}");
                        failures.push(n.to_string());
                    }
                }
            }
            if failures.is_empty() {
                Ok(())
            } else {
                Err(fail(
                    FETCH_FAILED,
                    format!("could not fetch: {}", failures.join(", ")),
                ))
            }
        }
    }
}
