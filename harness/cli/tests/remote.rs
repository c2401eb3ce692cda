//! The ssh runner against a real OpenSSH server that this test starts on 127.0.0.1 with throwaway keys, and the
//! qemu runner with the cross-built aarch64 runner (both need ci/setup.sh; CI requires them).

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

/// An sshd on a free loopback port, stopped on drop.
struct Sshd {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn keygen(path: &Path) {
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok, "ssh-keygen");
}

fn start_sshd() -> Option<Sshd> {
    let sshd = Path::new("/usr/sbin/sshd");
    if !sshd.is_file() || Command::new("ssh-keygen").arg("-?").output().is_err() {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    keygen(&dir.path().join("host_key"));
    keygen(&dir.path().join("user_key"));
    std::fs::copy(
        dir.path().join("user_key.pub"),
        dir.path().join("authorized_keys"),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let d = dir.path().display();
    std::fs::write(
        dir.path().join("sshd_config"),
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\nPidFile {d}/sshd.pid\n\
             StrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nPermitRootLogin prohibit-password\n\
             Subsystem sftp /usr/lib/openssh/sftp-server\n"
        ),
    )
    .unwrap();
    let _ = std::fs::create_dir_all("/run/sshd");
    let child = Command::new(sshd)
        .arg("-D")
        .arg("-e")
        .arg("-f")
        .arg(dir.path().join("sshd_config"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(Sshd { child, port, dir });
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    None
}

fn user() -> String {
    String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout)
        .unwrap()
        .trim()
        .to_string()
}

fn targets(sshd: &Sshd, port: u16) -> PathBuf {
    let d = sshd.dir.path().display();
    let text = format!(
        r#"
[target.host]
triple = "x86_64-unknown-linux-gnu"
cores = 2
backends = ["tract"]
runner = "local"
power = {{ idle_watts = 10.0, active_watts_per_core = 8.0 }}
peak_gflops = 100.0
mem_bandwidth_gbs = 10.0

[target.board]
triple = "x86_64-unknown-linux-gnu"
cores = 2
backends = ["tract"]
runner = "ssh"
power = {{ idle_watts = 3.0, active_watts_per_core = 1.0 }}
peak_gflops = 50.0
mem_bandwidth_gbs = 5.0
ssh = {{ host = "127.0.0.1", user = "{}", port = {port}, key = "{d}/user_key", remote_dir = "{d}/remote", options = ["UserKnownHostsFile={d}/known_hosts"] }}
"#,
        user()
    );
    let p = sshd.dir.path().join(format!("targets-{port}.toml"));
    std::fs::write(&p, text).unwrap();
    p
}

fn bench(args: &[&str]) -> (i32, serde_json::Value, String) {
    let o = edgebench()
        .args(["bench", "--json", "--max-time", "0.2", "--warmup", "0.02"])
        .args(args)
        .output()
        .unwrap();
    let v = serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null);
    (
        o.status.code().unwrap_or(-1),
        v,
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn ssh_runner_benches_on_the_board_records_a_lost_connection_and_resumes() {
    if !std::env::consts::ARCH.eq("x86_64") {
        return;
    }
    let Some(sshd) = start_sshd() else {
        require("an OpenSSH server (Debian openssh-server)", false);
        return;
    };
    let out = sshd.dir.path().join("runs");
    let good = targets(&sshd, sshd.port);
    let (code, j, err) = bench(&[
        "tiny_mlp",
        "small_cnn",
        "--targets",
        good.to_str().unwrap(),
        "--target",
        "host",
        "--target",
        "board",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let cells = j["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 4);
    for c in cells {
        assert_eq!(c["outcome"]["status"], "ok", "{c}");
        assert_eq!(c["emulated"], false);
        if c["target"] == "board" {
            // measured on the board, compared with the host's outputs on the same feed
            assert_eq!(c["agreement"]["agree"], true, "{c}");
            let run_dir = out.join(j["run_id"].as_str().unwrap());
            assert!(run_dir.join(c["samples_file"].as_str().unwrap()).is_file());
        }
    }
    let board = j["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "board")
        .unwrap()
        .clone();
    assert_eq!(board["runner"], "ssh");
    assert!(
        board["backends"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["name"] == "tract" && b["available"] == true)
    );
    // the staged folder on the board is gone
    let remote = sshd.dir.path().join("remote");
    assert_eq!(
        std::fs::read_dir(&remote).map(|r| r.count()).unwrap_or(0),
        0,
        "remote run folder not cleaned"
    );

    // The board is unreachable: its cells are recorded as such, the host's are measured.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = targets(&sshd, closed);
    let out2 = sshd.dir.path().join("runs2");
    let (code, j, err) = bench(&[
        "tiny_mlp",
        "--targets",
        down.to_str().unwrap(),
        "--target",
        "host",
        "--target",
        "board",
        "--out",
        out2.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let cells = j["cells"].as_array().unwrap();
    assert_eq!(cells[0]["outcome"]["status"], "ok");
    assert_eq!(cells[1]["outcome"]["status"], "failed");
    assert_eq!(cells[1]["outcome"]["exit_code"], 255);
    assert!(
        cells[1]["outcome"]["message"]
            .as_str()
            .unwrap()
            .contains("onnection"),
        "{}",
        cells[1]
    );
    // Back online: --resume runs only the board's cell, keeps the host's as it was.
    let run_dir = out2.join(j["run_id"].as_str().unwrap());
    let host_before = cells[0].clone();
    let (code, j, err) = bench(&[
        "tiny_mlp",
        "--targets",
        good.to_str().unwrap(),
        "--target",
        "host",
        "--target",
        "board",
        "--resume",
        run_dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let cells = j["cells"].as_array().unwrap();
    assert_eq!(
        cells[0], host_before,
        "the finished cell is kept, not re-measured"
    );
    assert_eq!(cells[1]["outcome"]["status"], "ok", "{}", cells[1]);
    assert_eq!(cells[1]["agreement"]["agree"], true);
    // resuming with another plan is refused
    let (code, _, err) = bench(&[
        "tiny_mlp",
        "small_cnn",
        "--targets",
        good.to_str().unwrap(),
        "--target",
        "host",
        "--target",
        "board",
        "--resume",
        run_dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("another plan"), "{err}");
}

#[test]
fn qemu_runner_runs_the_cross_built_runner_emulated_and_agrees_with_the_host() {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/aarch64-unknown-linux-gnu/release/edgebench");
    let qemu = Command::new("qemu-aarch64")
        .arg("--version")
        .output()
        .is_ok();
    if !require(
        "the aarch64 runner (`edgebench build --target pi4-qemu`) and qemu-user",
        bin.is_file() && qemu,
    ) {
        return;
    }
    let zoo = zoo_path("oww_hello_deepa_mlp").is_some();
    let mut args = vec![
        "tiny_mlp",
        "small_cnn",
        "--target",
        "host",
        "--target",
        "pi4-qemu",
        "--backend",
        "tract",
        "--backend",
        "ort",
    ];
    if zoo {
        args.insert(0, "oww_hello_deepa_mlp");
    }
    let out = tempfile::tempdir().unwrap();
    let o = out.path().display().to_string();
    args.extend(["--out", &o]);
    let (code, j, err) = bench(&args);
    assert_eq!(code, 0, "{err}");
    let t = j["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "pi4-qemu")
        .unwrap()
        .clone();
    assert_eq!(
        (t["emulated"].clone(), t["runner"].clone()),
        (serde_json::json!(true), serde_json::json!("qemu"))
    );
    // ONNX Runtime for aarch64 either works under this qemu (>= 10) or is reported unavailable with the reason.
    let ort = t["backends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "ort")
        .unwrap()
        .clone();
    assert!(
        ort["available"] == true || ort["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{ort}"
    );
    let ort_here = ort["available"] == true;
    let host_ort = backend_available("ort");
    let cells = j["cells"].as_array().unwrap();
    let models = if zoo { 3 } else { 2 };
    assert_eq!(
        cells.len(),
        models * (1 + host_ort as usize + 1 + ort_here as usize)
    );
    for c in cells.iter().filter(|c| c["target"] == "pi4-qemu") {
        assert_eq!(c["outcome"]["status"], "ok", "{c}");
        assert_eq!(c["emulated"], true);
        assert_eq!(
            c["agreement"]["agree"], true,
            "the aarch64 outputs agree with the host's: {c}"
        );
    }
    eprintln!(
        "ONNX Runtime under qemu: {}",
        if ort_here {
            "ran".to_string()
        } else {
            ort["reason"].to_string()
        }
    );
}

#[test]
fn qemu_runner_runs_a_tflite_model_on_litert_and_agrees_with_the_host() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/aarch64-unknown-linux-gnu/release");
    let qemu = Command::new("qemu-aarch64")
        .arg("--version")
        .output()
        .is_ok();
    if !require(
        "the aarch64 runner with LiteRT's aarch64 library beside it (`edgebench build --target pi4-qemu`) and qemu-user",
        dir.join("edgebench").is_file() && dir.join("libLiteRt.so").is_file() && qemu,
    ) || !require(
        "the litert backend (ai-edge-litert wheel)",
        backend_available("litert"),
    ) {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let o = out.path().display().to_string();
    let (code, j, err) = bench(&[
        "tflite_cnn",
        "--target",
        "host",
        "--target",
        "pi4-qemu",
        "--backend",
        "litert",
        "--out",
        &o,
    ]);
    assert_eq!(code, 0, "{err}");
    let t = j["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "pi4-qemu")
        .unwrap()
        .clone();
    let litert = t["backends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "litert")
        .unwrap()
        .clone();
    // LiteRT's aarch64 library either runs under this qemu or is reported unavailable with the reason.
    if litert["available"] != true {
        assert!(
            litert["reason"].as_str().is_some_and(|r| !r.is_empty()),
            "{litert}"
        );
        eprintln!("LiteRT under qemu: {}", litert["reason"]);
        return;
    }
    let cells = j["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 2, "{j}");
    let emulated = cells.iter().find(|c| c["target"] == "pi4-qemu").unwrap();
    assert_eq!(emulated["outcome"]["status"], "ok", "{emulated}");
    assert_eq!(emulated["emulated"], true);
    assert_eq!(emulated["agreement"]["reference"], "litert", "{emulated}");
    assert_eq!(
        emulated["agreement"]["agree"], true,
        "aarch64 LiteRT agrees with the host's: {emulated}"
    );
}
