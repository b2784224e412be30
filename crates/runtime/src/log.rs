//! The runtime's log: text or JSON lines (`level`, `msg`, `time`) to the
//! `--log` file, as containerd expects, else to stderr.

use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;

use skiff_timestamp as timestamp;

#[derive(Debug)]
struct Config {
    file: Option<PathBuf>,
    json: bool,
    debug: bool,
}

static CONFIG: OnceLock<Config> = OnceLock::new();

/// Set where and how the log is written; later calls are ignored.
pub fn init(file: Option<PathBuf>, json: bool, debug: bool) {
    let _ = CONFIG.set(Config { file, json, debug });
}

fn write(level: &str, msg: &str) {
    let cfg = CONFIG.get();
    if level == "debug" && !cfg.is_some_and(|c| c.debug) {
        return;
    }
    let time = timestamp::now_rfc3339();
    let line = if cfg.is_some_and(|c| c.json) {
        serde_json::json!({ "level": level, "msg": msg, "time": time }).to_string()
    } else {
        format!("time=\"{time}\" level={level} msg={msg:?}")
    };
    match cfg.and_then(|c| c.file.as_ref()) {
        Some(path) => {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path);
            if let Ok(mut f) = f {
                let _ = writeln!(f, "{line}");
            }
        }
        None => eprintln!("{line}"),
    }
}

/// Log an error.
pub fn error(msg: &str) {
    write("error", msg);
}

/// Log a warning.
pub fn warn(msg: &str) {
    write("warning", msg);
}

/// Log a debug line (only with `--debug`).
pub fn debug(msg: &str) {
    write("debug", msg);
}

/// Whether a log file was given (errors then also go to stderr separately).
pub fn has_file() -> bool {
    CONFIG.get().is_some_and(|c| c.file.is_some())
}
