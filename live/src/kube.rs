//! kubectl, as the live driver uses it: one-shot commands and watch streams.
//!
//! The driver talks to the cluster through `kubectl` rather than a client library so that what it
//! does is exactly what an engineer would type, and so it needs nothing but a kubeconfig.

use std::io::{BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::error::{LiveError, Result};

/// How to reach the cluster.
#[derive(Clone, Debug)]
pub(crate) struct Kube {
    /// The kubectl binary.
    pub kubectl: PathBuf,
    /// The kubeconfig (else kubectl's default).
    pub kubeconfig: Option<PathBuf>,
    /// The namespace of every command.
    pub namespace: String,
}

impl Kube {
    /// A `kubectl` command with the kubeconfig and namespace set.
    pub(crate) fn command(&self) -> Command {
        let mut c = Command::new(&self.kubectl);
        if let Some(k) = &self.kubeconfig {
            c.arg("--kubeconfig").arg(k);
        }
        c.arg("--namespace").arg(&self.namespace);
        c
    }

    /// Runs `kubectl ARGS` and returns its stdout; the error names the command and its stderr.
    pub(crate) fn run(&self, args: &[&str]) -> Result<String> {
        let out = self
            .command()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|source| LiveError::KubectlStart {
                kubectl: self.kubectl.clone(),
                source,
            })?;
        if !out.status.success() {
            return Err(LiveError::Kubectl {
                command: args.join(" "),
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Runs `kubectl ARGS -o json` and parses the output.
    pub(crate) fn json(&self, args: &[&str]) -> Result<Value> {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["-o", "json"]);
        let text = self.run(&all)?;
        serde_json::from_str(&text).map_err(|source| LiveError::KubectlOutput {
            command: args.join(" "),
            source,
        })
    }

    /// Starts `kubectl get KIND -l SELECTOR --watch --output-watch-events -o json`: the child
    /// prints one JSON watch event (`{"type": ..., "object": ...}`) after another.
    pub(crate) fn watch(&self, kind: &str, selector: &str) -> Result<Child> {
        self.spawn_piped(&[
            "get",
            kind,
            "-l",
            selector,
            "--watch",
            "--output-watch-events",
            "-o",
            "json",
        ])
    }

    /// Starts `kubectl logs -f POD` (stdout piped).
    pub(crate) fn follow_logs(&self, pod: &str) -> Result<Child> {
        self.spawn_piped(&["logs", "-f", pod])
    }

    /// Starts `kubectl ARGS` with its stdout piped (stdin and stderr closed).
    fn spawn_piped(&self, args: &[&str]) -> Result<Child> {
        self.command()
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| LiveError::KubectlStart {
                kubectl: self.kubectl.clone(),
                source,
            })
    }
}

/// Reads concatenated JSON documents from `reader` (what `kubectl --watch -o json` prints) and
/// calls `each` with every document as soon as it is complete. Returns when the stream ends.
pub(crate) fn for_each_json<R: Read>(reader: R, mut each: impl FnMut(Value)) {
    let stream = serde_json::Deserializer::from_reader(BufReader::new(reader)).into_iter::<Value>();
    for value in stream {
        match value {
            Ok(v) => each(v),
            Err(_) => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concatenated_pretty_json_documents_are_split() {
        let text = "{\n  \"type\": \"ADDED\",\n  \"object\": {\"a\": 1}\n}\n{\"type\": \"DELETED\", \"object\": {}}\n";
        let mut seen = Vec::new();
        for_each_json(text.as_bytes(), |v| {
            seen.push(v["type"].as_str().unwrap().to_string())
        });
        assert_eq!(seen, ["ADDED", "DELETED"]);
    }
}
