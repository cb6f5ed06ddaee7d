//! The pinned SDK environments of the conformance tests, installed by the tests
//! themselves on first use, once per target directory: a Python virtualenv with the
//! packages of `tests/conformance/requirements.txt` in `<target>/conformance/python/`,
//! and the Node.js packages of `tests/conformance/node/package-lock.json` in
//! `<target>/conformance/node/`. Each is installed again only when its pin file
//! changes. Python 3 (with venv) and Node.js (with npm) themselves must be installed;
//! when they are not, the test fails naming the system package to install.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// What to install when Python is missing.
pub const PYTHON_MISSING: &str = "the Python conformance tests need Python 3 with venv \
     (Debian: apt-get install python3 python3-venv)";

/// What to install when Node.js is missing.
pub const NODE_MISSING: &str = "the Node.js conformance tests need Node.js 20 or newer and npm \
     (Debian: apt-get install nodejs npm)";

/// The conformance scripts and their pin files.
pub fn source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance")
}

/// The Python interpreter of the virtualenv holding the pinned Azure IoT Python SDKs.
pub fn python() -> &'static Path {
    static INSTALLED: OnceLock<PathBuf> = OnceLock::new();
    INSTALLED.get_or_init(install_python)
}

/// The `node_modules` of the pinned Azure IoT Node.js SDKs.
pub fn node_modules() -> &'static Path {
    static INSTALLED: OnceLock<PathBuf> = OnceLock::new();
    INSTALLED.get_or_init(install_node)
}

fn install_python() -> PathBuf {
    require_tool("python3", PYTHON_MISSING);
    let requirements = source_dir().join("requirements.txt");
    let pins = std::fs::read(&requirements).unwrap();
    let dir = target_dir().join("conformance").join("python");
    let python = dir.join("bin").join("python3");
    // Written last, so an interrupted install is done again.
    let stamp = dir.join(".twinlens-requirements.txt");
    if python.exists() && std::fs::read(&stamp).ok().as_deref() == Some(pins.as_slice()) {
        return python;
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
    println!(
        "installing the pinned Python SDKs into a virtualenv in {}",
        dir.display()
    );
    run_install(
        Command::new("python3").arg("-m").arg("venv").arg(&dir),
        "python3 -m venv",
        PYTHON_MISSING,
    );
    run_install(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
            ])
            .arg("-r")
            .arg(&requirements),
        "pip install -r tests/conformance/requirements.txt",
        "check the network access to PyPI",
    );
    std::fs::write(&stamp, &pins).unwrap();
    python
}

fn install_node() -> PathBuf {
    require_tool("node", NODE_MISSING);
    require_tool("npm", NODE_MISSING);
    let source = source_dir().join("node");
    let lock = std::fs::read(source.join("package-lock.json")).unwrap();
    let dir = target_dir().join("conformance").join("node");
    let modules = dir.join("node_modules");
    // Written into node_modules after a successful install (`npm ci` empties
    // node_modules first, so an interrupted install leaves no stamp).
    let stamp = modules.join(".twinlens-package-lock.json");
    if std::fs::read(&stamp).ok().as_deref() == Some(lock.as_slice()) {
        return modules;
    }
    std::fs::create_dir_all(&dir).unwrap();
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(source.join(file), dir.join(file)).unwrap();
    }
    println!(
        "installing the pinned Node.js SDKs: npm ci in {}",
        dir.display()
    );
    run_install(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir),
        "npm ci",
        NODE_MISSING,
    );
    std::fs::write(&stamp, &lock).unwrap();
    modules
}

/// Fails the test, saying what to install, when `tool --version` does not run.
fn require_tool(tool: &str, missing: &str) {
    match Command::new(tool).arg("--version").output() {
        Ok(output) if output.status.success() => {}
        Ok(output) => panic!(
            "`{tool} --version` failed ({}): {}\n{missing}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ),
        Err(error) => panic!("`{tool}` does not run ({error}): {missing}"),
    }
}

/// Runs an install step; a failure fails the test with its output and `advice`.
fn run_install(command: &mut Command, what: &str, advice: &str) {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("`{what}` does not run ({error}): {advice}"));
    assert!(
        output.status.success(),
        "`{what}` failed ({}):\n{}\n{}\n{advice}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The target directory: the parent of the profile directory holding the binary.
fn target_dir() -> PathBuf {
    let binary = Path::new(env!("CARGO_BIN_EXE_twinlens"));
    binary
        .parent()
        .and_then(Path::parent)
        .unwrap_or_else(|| panic!("no target directory above {}", binary.display()))
        .to_owned()
}
