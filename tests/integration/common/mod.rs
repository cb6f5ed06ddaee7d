//! Shared test support: starts the real `twinlens hub` binary on OS-chosen ports and
//! gives tests an authenticated HTTP client for it.

#![allow(dead_code, clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::time::Duration;

use serde_json::Value;
use twinlens::auth::ServiceConnectionString;

/// The api-version every request uses.
pub const API_VERSION: &str = "2021-04-12";

/// Held by every test that binds a fixed port (443, 8883: the ports the Azure SDKs dial),
/// so that the tests of this binary never race for one.
static FIXED_PORTS: Mutex<()> = Mutex::new(());

/// Waits until no other test of this binary uses the fixed ports (443, 8883), and keeps
/// them for the caller until the guard is dropped (a test that failed holding them does
/// not keep them from the others).
pub fn lock_fixed_ports() -> MutexGuard<'static, ()> {
    FIXED_PORTS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A hub process that is killed when dropped.
pub struct HubProcess {
    child: Child,
    /// The parsed ready line.
    pub ready: Value,
    /// The data directory it runs on.
    pub data_dir: PathBuf,
    /// What it logged, when started by [`HubProcess::start_logging`].
    log: Option<Arc<Mutex<String>>>,
}

impl HubProcess {
    /// Starts `twinlens hub` on `data_dir` with `extra` arguments, and waits for its
    /// ready line. Ports not given in `extra` are chosen by the OS (a test giving a fixed
    /// port holds [`lock_fixed_ports`]).
    pub fn start(data_dir: &Path, extra: &[&str]) -> HubProcess {
        Self::spawn(
            Command::new(env!("CARGO_BIN_EXE_twinlens")),
            data_dir,
            extra,
            None,
        )
    }

    /// Like [`HubProcess::start`], keeping what the hub logs at `filter` (a `RUST_LOG`
    /// value) for [`HubProcess::wait_for_log`].
    pub fn start_logging(data_dir: &Path, extra: &[&str], filter: &str) -> HubProcess {
        Self::spawn(
            Command::new(env!("CARGO_BIN_EXE_twinlens")),
            data_dir,
            extra,
            Some(filter),
        )
    }

    /// Waits (at most 10 s) for a log line containing `needle` and returns the whole
    /// log so far.
    pub fn wait_for_log(&self, needle: &str) -> String {
        let log = self.log.as_ref().expect("started by start_logging");
        for _ in 0..200 {
            let text = log.lock().unwrap().clone();
            if text.contains(needle) {
                return text;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "the hub did not log {needle:?} within 10 s:\n{}",
            log.lock().unwrap()
        );
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
        Self::spawn(command, data_dir, extra, None)
    }

    fn spawn(
        mut command: Command,
        data_dir: &Path,
        extra: &[&str],
        log_filter: Option<&str>,
    ) -> HubProcess {
        command.arg("hub");
        if !extra.contains(&"--http-port") {
            command.args(["--http-port", "0"]);
        }
        let mut child = command
            .arg("--data-dir")
            .arg(data_dir)
            .args(extra)
            .env("RUST_LOG", log_filter.unwrap_or("warn"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(if log_filter.is_some() {
                Stdio::piped()
            } else {
                Stdio::inherit()
            })
            .spawn()
            .expect("the twinlens binary starts");
        let log = child.stderr.take().map(|stderr| {
            let log = Arc::new(Mutex::new(String::new()));
            let kept = Arc::clone(&log);
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    let mut kept = kept.lock().unwrap();
                    kept.push_str(&line);
                    kept.push('\n');
                }
            });
            log
        });
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
            log,
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

    /// The full URL of an API path (which may carry a query string of its own).
    pub fn url(&self, path: &str) -> String {
        let separator = if path.contains('?') { '&' } else { '?' };
        format!(
            "{}{path}{separator}api-version={API_VERSION}",
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

/// Asserts an Azure error answer: status, code (from the body, in either of Azure's
/// forms), name in the header, a tracking id; returns the message.
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
    let body = response.bytes().await.unwrap();
    // The body alone, without the header, must say which error it is.
    let error = twinlens::service::AzureError::parse(status, None, &body);
    let text = String::from_utf8_lossy(&body);
    assert_eq!(error.code, Some(code), "{text}");
    assert_eq!(error.code_name.as_deref(), Some(name.as_str()), "{text}");
    assert!(error.tracking_id.is_some(), "{text}");
    error.message
}

/// The `Message` of an Azure error body in the `ErrorCode` form, which the Node.js
/// service SDK reads (`ErrorCode:<Name>;<text>`): its name and text.
pub async fn error_code_form(response: reqwest::Response) -> (String, String) {
    let body: Value = response.json().await.unwrap();
    let message = body["Message"].as_str().unwrap();
    assert!(
        body["ExceptionMessage"]
            .as_str()
            .unwrap()
            .starts_with("Tracking ID:"),
        "{body}"
    );
    let (name, text) = message
        .strip_prefix("ErrorCode:")
        .and_then(|rest| rest.split_once(';'))
        .unwrap_or_else(|| panic!("not the ErrorCode form: {body}"));
    assert!(!text.contains(';'), "{body}");
    (name.to_owned(), text.to_owned())
}
pub mod conformance_env;
pub mod device;
pub mod local_hub;

/// Takes one whole MQTT packet off the front of `received`; `None` until one has fully
/// arrived. Panics on bytes that are no MQTT packet.
pub fn take_packet(received: &mut bytes::BytesMut) -> Option<rumqttc::mqttbytes::v4::Packet> {
    match rumqttc::mqttbytes::v4::Packet::read(received, 1 << 20) {
        Ok(packet) => Some(packet),
        Err(rumqttc::mqttbytes::Error::InsufficientBytes(_)) => None,
        Err(error) => panic!("unreadable packet from the hub: {error}"),
    }
}

/// The bytes of an MQTT packet, for tests that speak MQTT packet by packet.
pub fn packet_bytes(packet: rumqttc::mqttbytes::v4::Packet) -> Vec<u8> {
    let mut bytes = bytes::BytesMut::new();
    packet.write(&mut bytes, 1 << 20).unwrap();
    bytes.to_vec()
}
