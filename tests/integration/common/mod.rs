//! Shared test support: starts the real `twinlens hub` binary on OS-chosen ports and
//! gives tests an authenticated HTTP client for it.

#![allow(dead_code, clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use twinlens::auth::ServiceConnectionString;

/// The api-version every request uses.
pub const API_VERSION: &str = "2021-04-12";

/// A hub process that is killed when dropped.
pub struct HubProcess {
    child: Child,
    /// The parsed ready line.
    pub ready: Value,
    /// The data directory it runs on.
    pub data_dir: PathBuf,
}

impl HubProcess {
    /// Starts `twinlens hub` on `data_dir` with `extra` arguments, and waits for its
    /// ready line. Ports not given in `extra` are chosen by the OS.
    pub fn start(data_dir: &Path, extra: &[&str]) -> HubProcess {
        Self::spawn(
            Command::new(env!("CARGO_BIN_EXE_twinlens")),
            data_dir,
            extra,
        )
    }

    /// Like [`HubProcess::start`], with the process allowed at most `limit` open files
    /// (soft and hard limit, set by the shell before it runs the hub).
    pub fn start_with_open_file_limit(data_dir: &Path, extra: &[&str], limit: u32) -> HubProcess {
        let mut command = Command::new("sh");
        command.args([
            "-c",
            &format!("ulimit -n {limit} && exec \"$0\" \"$@\""),
            env!("CARGO_BIN_EXE_twinlens"),
        ]);
        Self::spawn(command, data_dir, extra)
    }

    fn spawn(mut command: Command, data_dir: &Path, extra: &[&str]) -> HubProcess {
        let mut child = command
            .args(["hub", "--http-port", "0", "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the twinlens binary starts");
        let stdout = child.stdout.take().unwrap();
        let (lines, received) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let line = received
            .recv_timeout(Duration::from_secs(60))
            .expect("the hub printed its ready line within a minute")
            .unwrap();
        let ready: Value = serde_json::from_str(&line).expect("the ready line is JSON");
        assert_eq!(ready["event"], "ready", "{line}");
        HubProcess {
            child,
            ready,
            data_dir: data_dir.to_owned(),
        }
    }

    /// Kills the process with SIGKILL, without any chance to clean up.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Asks the process to stop with SIGTERM and returns how it exited (within 15 seconds).
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -TERM failed");
        for _ in 0..150 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the hub did not stop within 15 seconds of SIGTERM");
    }

    /// The hub's service connection string.
    pub fn service(&self) -> ServiceConnectionString {
        self.ready["service_connection_string"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    }

    /// A valid owner token for an hour.
    pub fn token(&self) -> String {
        self.service().sas_token(now() + 3600).to_string()
    }

    /// The full URL of an API path.
    pub fn url(&self, path: &str) -> String {
        format!(
            "{}{path}?api-version={API_VERSION}",
            self.ready["http_url"].as_str().unwrap()
        )
    }

    /// A client that trusts the hub's CA (when it has one).
    pub fn client(&self) -> reqwest::Client {
        client_for(&self.ready)
    }

    /// GETs an API path and returns its JSON body.
    pub async fn get_json(&self, path: &str) -> Value {
        self.request(reqwest::Method::GET, path)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Sends a JSON body to an API path.
    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Value,
    ) -> reqwest::Response {
        self.request(method, path).json(body).send().await.unwrap()
    }

    /// An authenticated request builder.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client()
            .request(method, self.url(path))
            .header("Authorization", self.token())
    }
}

impl Drop for HubProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A reqwest client over rustls (ring) trusting the hub's CA from the ready line.
pub fn client_for(ready: &Value) -> reqwest::Client {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(path) = ready["ca_cert"].as_str() {
        use rustls_pki_types::pem::PemObject;
        for cert in rustls_pki_types::CertificateDer::pem_file_iter(path).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Asserts an Azure error answer: status, numeric code in the body, name in the header.
pub async fn assert_azure_error(response: reqwest::Response, status: u16, code: u32) -> String {
    assert_eq!(
        response.status().as_u16(),
        status,
        "status of {}",
        response.url()
    );
    let name = response
        .headers()
        .get("iothub-errorcode")
        .map(|v| v.to_str().unwrap().to_owned())
        .expect("an iothub-errorcode header");
    let body: Value = response.json().await.unwrap();
    let inner: Value = serde_json::from_str(body["Message"].as_str().unwrap()).unwrap();
    assert_eq!(inner["errorCode"], code, "{inner}");
    assert!(inner["trackingId"].is_string());
    assert_eq!(body["ExceptionMessage"], "");
    let _ = name;
    inner["message"].as_str().unwrap().to_owned()
}
pub mod device;
pub mod local_hub;
