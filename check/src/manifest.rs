//! Reading manifests: files, folders (recursively, `*.yaml` / `*.yml`) and standard input;
//! the kinds the check reads, and each Deployment mapped to the settings the model has, every
//! one with the file and line it came from.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use models::{Entrypoint, IntOrPercent, PreStop, Preset, ReadinessProbe};
use sim_core::SimDuration;

use crate::error::CheckError;
use crate::yaml::{self, Doc, Node};

/// The kinds the check reads; any other is listed as skipped.
pub const KINDS: [&str; 6] = [
    "Deployment",
    "Service",
    "Ingress",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "Namespace",
];

/// Where a setting was written (or, when absent, the object that would hold it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Loc {
    /// The file (`-` for standard input).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// The field's path in its document (`spec.template.spec.terminationGracePeriodSeconds`).
    pub field: String,
}

/// A document of a kind the check does not read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    /// The file.
    pub file: String,
    /// 1-based line of the document.
    pub line: usize,
    /// Its kind.
    pub kind: String,
    /// Its `metadata.name`.
    pub name: String,
}

/// Reads every input: `-` is standard input, a folder is walked recursively (files ending in
/// `.yaml` or `.yml`, in name order), anything else is a file.
pub fn read_inputs(paths: &[PathBuf]) -> Result<Vec<Doc>, CheckError> {
    if paths.is_empty() {
        return Err(CheckError::NoInput);
    }
    let mut docs = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|source| CheckError::Read {
                    path: p.clone(),
                    source,
                })?;
            docs.extend(yaml::parse(&text, "-")?);
        } else if p.is_dir() {
            let mut files = Vec::new();
            walk(p, &mut files)?;
            for f in files {
                docs.extend(read_file(&f)?);
            }
        } else {
            docs.extend(read_file(p)?);
        }
    }
    Ok(docs)
}

fn read_file(path: &Path) -> Result<Vec<Doc>, CheckError> {
    let bytes = std::fs::read(path).map_err(|source| CheckError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let name = path.display().to_string();
    let text = String::from_utf8(bytes).map_err(|e| CheckError::NotYaml {
        file: name.clone(),
        line: 1,
        col: 1,
        reason: format!("not UTF-8 (byte {})", e.utf8_error().valid_up_to()),
    })?;
    yaml::parse(&text, &name)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), CheckError> {
    let read = |source| CheckError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(read)?;
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(p);
        }
    }
    Ok(())
}

/// A document with its kind, name and namespace read.
#[derive(Debug, Clone)]
pub struct Object {
    /// The document.
    pub doc: Doc,
    /// `kind`.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace` (`default` when absent).
    pub namespace: String,
}

impl Object {
    /// `Kind/name` for messages.
    pub fn title(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }

    /// An error at `node` (or the document when `None`) about `field`.
    pub fn invalid(
        &self,
        node: Option<&Node>,
        field: &str,
        reason: impl Into<String>,
    ) -> CheckError {
        CheckError::Invalid {
            file: self.doc.file.clone(),
            line: node.map_or(self.doc.root.line, Node::at),
            document: self.title(),
            field: field.to_string(),
            reason: reason.into(),
        }
    }

    /// Where `field` is (or the nearest written parent, `at`).
    pub fn loc(&self, at: &Node, field: &str) -> Loc {
        Loc {
            file: self.doc.file.clone(),
            line: at.at(),
            field: field.to_string(),
        }
    }

    fn path<'a>(&'a self, keys: &[&str]) -> Option<&'a Node> {
        keys.iter().try_fold(&self.doc.root, |n, k| n.get(k))
    }
}

/// Splits documents into objects the check reads and skipped ones.
pub fn classify(docs: Vec<Doc>, strict: bool) -> Result<(Vec<Object>, Vec<Skipped>), CheckError> {
    let mut objects = Vec::new();
    let mut skipped = Vec::new();
    for doc in docs {
        if doc.root.entries().is_none() {
            return Err(CheckError::Invalid {
                file: doc.file.clone(),
                line: doc.root.line,
                document: format!("document {}", doc.index + 1),
                field: "(root)".into(),
                reason: format!("a manifest is a mapping, not a {}", doc.root.type_name()),
            });
        }
        let title = format!("document {}", doc.index + 1);
        let text = |key: &str| -> Result<Option<String>, CheckError> {
            let n = match key {
                "name" | "namespace" => doc.root.get("metadata").and_then(|m| m.get(key)),
                k => doc.root.get(k),
            };
            match n {
                None => Ok(None),
                Some(n) if n.is_null() => Ok(None),
                Some(n) => {
                    n.scalar()
                        .map(|s| Some(s.to_string()))
                        .ok_or_else(|| CheckError::Invalid {
                            file: doc.file.clone(),
                            line: n.line,
                            document: title.clone(),
                            field: if key == "kind" {
                                key.into()
                            } else {
                                format!("metadata.{key}")
                            },
                            reason: format!("must be a string, not a {}", n.type_name()),
                        })
                }
            }
        };
        let kind = text("kind")?;
        let name = text("name")?.unwrap_or_default();
        let namespace = text("namespace")?.unwrap_or_else(|| "default".into());
        let Some(kind) = kind else {
            return Err(CheckError::Invalid {
                file: doc.file.clone(),
                line: doc.root.line,
                document: title,
                field: "kind".into(),
                reason: "missing: every Kubernetes object names its kind".into(),
            });
        };
        if kind == "List" {
            // `kubectl get -o yaml` wraps objects in a List.
            let items = doc.root.get("items").and_then(Node::items).unwrap_or(&[]);
            let inner: Vec<Doc> = items
                .iter()
                .map(|n| Doc {
                    file: doc.file.clone(),
                    index: doc.index,
                    root: n.clone(),
                })
                .collect();
            let (o, s) = classify(inner, strict)?;
            objects.extend(o);
            skipped.extend(s);
            continue;
        }
        if !KINDS.contains(&kind.as_str()) {
            if strict {
                return Err(CheckError::UnknownKind {
                    file: doc.file.clone(),
                    line: doc.root.line,
                    kind,
                    name,
                });
            }
            skipped.push(Skipped {
                file: doc.file.clone(),
                line: doc.root.line,
                kind,
                name,
            });
            continue;
        }
        let obj = Object {
            doc,
            kind,
            name,
            namespace,
        };
        if obj.name.is_empty() {
            return Err(obj.invalid(None, "metadata.name", "missing"));
        }
        if obj.kind == "Deployment" {
            let api = obj
                .path(&["apiVersion"])
                .and_then(Node::scalar)
                .unwrap_or("");
            if api != "apps/v1" {
                return Err(obj.invalid(
                    obj.path(&["apiVersion"]),
                    "apiVersion",
                    format!("{api:?}: a Deployment is apps/v1 (older versions are gone since Kubernetes 1.16)"),
                ));
            }
        }
        objects.push(obj);
    }
    Ok((objects, skipped))
}

/// A non-negative integer field (Kubernetes int32), or its default when absent.
fn int_field(
    obj: &Object,
    node: Option<&Node>,
    field: &str,
    default: u32,
) -> Result<u32, CheckError> {
    let Some(n) = node.filter(|n| !n.is_null()) else {
        return Ok(default);
    };
    match &n.value {
        yaml::Value::Scalar { text, plain: true } => text.parse::<u32>().map_err(|_| {
            obj.invalid(
                Some(n),
                field,
                format!("{text:?} is not a non-negative integer"),
            )
        }),
        yaml::Value::Scalar { text, .. } => Err(obj.invalid(
            Some(n),
            field,
            format!("\"{text}\" is a quoted string; Kubernetes wants an integer here"),
        )),
        _ => Err(obj.invalid(
            Some(n),
            field,
            format!("must be an integer, not a {}", n.type_name()),
        )),
    }
}

fn int_or_percent(obj: &Object, node: &Node, field: &str) -> Result<IntOrPercent, CheckError> {
    match &node.value {
        yaml::Value::Scalar { text, plain: true } if text.parse::<u32>().is_ok() => {
            Ok(IntOrPercent::Int(text.parse().unwrap_or(0)))
        }
        yaml::Value::Scalar { text, .. } => match text.trim().strip_suffix('%') {
            Some(p) => match p.trim().parse::<u32>() {
                Ok(p) if p <= 100 => Ok(IntOrPercent::Percent(p)),
                _ => Err(obj.invalid(Some(node), field, format!("{text:?} is not a percentage from 0% to 100%"))),
            },
            None => Err(obj.invalid(
                Some(node),
                field,
                format!("{text:?}: an integer or a percentage like \"25%\" (Kubernetes rejects other strings)"),
            )),
        },
        _ => Err(obj.invalid(Some(node), field, format!("must be an integer or a percentage, not a {}", node.type_name()))),
    }
}

fn string_map(node: Option<&Node>) -> Vec<(String, String)> {
    node.and_then(Node::entries)
        .map(|e| {
            e.iter()
                .filter_map(|(k, v)| v.scalar().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

fn strings(node: Option<&Node>) -> Vec<String> {
    node.and_then(Node::items)
        .map(|i| {
            i.iter()
                .filter_map(|n| n.scalar().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// How the entrypoint form was found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EntrypointRead {
    /// The form.
    #[serde(serialize_with = "ser_entrypoint")]
    pub form: Entrypoint,
    /// `false` when the manifest has no `command` (the image's ENTRYPOINT decides; exec form
    /// assumed).
    pub from_manifest: bool,
    /// For `sh -c SCRIPT`: the script and the index of the `command`/`args` item that holds it
    /// (`("command", 2)`), so a fix can prefix it with `exec`.
    pub script: Option<(String, usize, String)>,
}

fn ser_entrypoint<S: serde::Serializer>(e: &Entrypoint, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(match e {
        Entrypoint::Exec => "exec",
        Entrypoint::Shell => "shell",
        Entrypoint::Init => "init",
    })
}

const SHELLS: [&str; 6] = ["sh", "bash", "ash", "dash", "zsh", "ksh"];
const INITS: [&str; 4] = ["tini", "dumb-init", "catatonit", "tini-static"];

/// The entrypoint form from a container's `command` and `args`: `sh -c SCRIPT` (any shell,
/// any path) is the shell form unless the script starts with `exec`; tini, dumb-init or
/// catatonit is a real init; anything else is the exec form. No `command`: the image decides,
/// exec form assumed.
pub fn entrypoint(command: &[String], args: &[String]) -> EntrypointRead {
    if command.is_empty() {
        return EntrypointRead {
            form: Entrypoint::Exec,
            from_manifest: false,
            script: None,
        };
    }
    let base = |s: &str| s.rsplit('/').next().unwrap_or(s).to_string();
    let first = base(&command[0]);
    let mut form = Entrypoint::Exec;
    let mut script = None;
    if SHELLS.contains(&first.as_str()) {
        // The script is the item after -c, in command or (when command is just the shell,
        // or the shell and -c) in args.
        let all: Vec<(&str, usize, &String)> = command
            .iter()
            .enumerate()
            .map(|(i, s)| ("command", i, s))
            .chain(args.iter().enumerate().map(|(i, s)| ("args", i, s)))
            .collect();
        if let Some(c) = all
            .iter()
            .position(|(_, _, s)| s.starts_with('-') && s.contains('c') && !s.starts_with("--"))
            && let Some((list, i, s)) = all.get(c + 1)
        {
            let t = s.trim_start();
            if t.starts_with("exec ") {
                form = Entrypoint::Exec;
            } else {
                form = Entrypoint::Shell;
                script = Some((list.to_string(), *i, s.to_string()));
            }
        }
    } else if INITS.contains(&first.as_str()) {
        form = Entrypoint::Init;
    }
    EntrypointRead {
        form,
        from_manifest: true,
        script,
    }
}

/// A Deployment's settings, each with where it was written.
#[derive(Debug, Clone)]
pub struct Workload {
    /// The Deployment's object.
    pub object: Object,
    /// `namespace/name`.
    pub id: String,
    /// `spec.replicas` (default 1), or the HPA's `minReplicas` when an HPA scales it.
    pub replicas: u32,
    /// Where the replica count came from.
    pub replicas_from: String,
    /// `spec.strategy.rollingUpdate.maxSurge` (default 25%).
    pub max_surge: IntOrPercent,
    /// `spec.strategy.rollingUpdate.maxUnavailable` (default 25%).
    pub max_unavailable: IntOrPercent,
    /// Where the strategy is (or the spec).
    pub strategy_loc: Loc,
    /// `spec.minReadySeconds`.
    pub min_ready: u32,
    /// `spec.template.spec.terminationGracePeriodSeconds` (default 30).
    pub grace: u32,
    /// Where it is (or the pod spec).
    pub grace_loc: Loc,
    /// The serving container's name.
    pub container: String,
    /// Index of the serving container in `containers`.
    pub container_index: usize,
    /// The container's preStop hook (`None`: no hook).
    pub prestop: Option<PreStop>,
    /// Where it is (or the container).
    pub prestop_loc: Loc,
    /// The readiness probe (`None`: none).
    pub readiness: Option<ReadinessProbe>,
    /// Where it is (or the container).
    pub readiness_loc: Loc,
    /// The entrypoint form read from command/args.
    pub entrypoint: EntrypointRead,
    /// Where command is (or the container).
    pub entrypoint_loc: Loc,
    /// The first container port the Service targets (number), for a probe a fix adds.
    pub port: Option<String>,
    /// The pod template's labels.
    pub labels: Vec<(String, String)>,
    /// The pod template's annotations.
    pub annotations: Vec<(String, String)>,
    /// The balancer in front, as read from Services, Ingresses and annotations.
    pub balancer: BalancerRead,
    /// Notes on what was read and how (printed with the result).
    pub notes: Vec<String>,
}

/// The balancer chain read from the manifests.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BalancerRead {
    /// The preset (`kube_proxy_iptables` when only a ClusterIP Service selects the pods).
    #[serde(serialize_with = "ser_preset")]
    pub preset: Preset,
    /// The hop that picks the pod behind the balancer: `Some(kube_proxy_iptables)` for
    /// ingress-nginx with `service-upstream` and for a `cloud_lb` with NodePort targets.
    /// `None` for `aws_alb_instance`, whose preset implies the kube-proxy hop.
    #[serde(serialize_with = "ser_opt_preset")]
    pub via: Option<Preset>,
    /// A cloud LB's deregistration delay (`deregistration_delay.timeout_seconds` of the
    /// target-group attributes, or the AWS default 300 s for an ALB with IP targets); only for
    /// presets with that knob and pod targets.
    pub deregistration_delay_s: Option<u64>,
    /// Seconds between health checks of a target, from the controller's annotation (`None`:
    /// the preset's default); only for presets with that knob and pod targets.
    pub health_check_interval_s: Option<u64>,
    /// Consecutive passing health checks before a new target gets traffic, from the
    /// controller's annotation (`None`: the preset's default); as `health_check_interval_s`.
    pub healthy_threshold: Option<u32>,
    /// Consecutive failed health checks before a target that stopped answering gets no new
    /// traffic, from the controller's annotation (`None`: the preset's default); as
    /// `health_check_interval_s`.
    pub unhealthy_threshold: Option<u32>,
    /// An NLB's `deregistration_delay.connection_termination.enabled` (target-group
    /// attributes): `Some(true)` when on; then `deregistration_delay_s` acts.
    pub connection_termination: Option<bool>,
    /// The pods' own inbound proxy behind a balancer that is not the mesh's (Istio's Envoy
    /// behind an ingress or a cloud load balancer).
    #[serde(serialize_with = "ser_opt_sidecar")]
    pub sidecar: Option<models::Sidecar>,
    /// An Istio sidecar's terminationDrainDuration.
    pub sidecar_drain_s: Option<f64>,
    /// A Linkerd proxy's `config.alpha.linkerd.io/proxy-wait-before-exit-seconds` (its
    /// preStop: it keeps accepting this long after deletion).
    pub wait_before_exit_s: Option<u64>,
    /// Why this preset: which object or annotation decided it.
    pub because: String,
    /// Where that was written.
    pub loc: Option<Loc>,
}

impl BalancerRead {
    /// `preset` with nothing else read (no hop behind it, no overrides, no reason yet).
    pub fn new(preset: Preset) -> BalancerRead {
        BalancerRead {
            preset,
            via: None,
            deregistration_delay_s: None,
            health_check_interval_s: None,
            healthy_threshold: None,
            unhealthy_threshold: None,
            connection_termination: None,
            sidecar: None,
            sidecar_drain_s: None,
            wait_before_exit_s: None,
            because: String::new(),
            loc: None,
        }
    }
}

fn ser_opt_sidecar<S: serde::Serializer>(
    p: &Option<models::Sidecar>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match p {
        Some(models::Sidecar::Envoy) => s.serialize_some("envoy"),
        Some(models::Sidecar::Linkerd) => s.serialize_some("linkerd"),
        None => s.serialize_none(),
    }
}

fn ser_preset<S: serde::Serializer>(p: &Preset, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(p.name())
}
fn ser_opt_preset<S: serde::Serializer>(p: &Option<Preset>, s: S) -> Result<S::Ok, S::Error> {
    match p {
        Some(p) => s.serialize_str(p.name()),
        None => s.serialize_none(),
    }
}

/// Parses a preset name as written on the command line or in `--proxy`.
pub fn parse_preset(s: &str) -> Option<Preset> {
    Preset::ALL.into_iter().find(|p| p.name() == s)
}

fn selects(selector: &[(String, String)], labels: &[(String, String)]) -> bool {
    !selector.is_empty() && selector.iter().all(|kv| labels.contains(kv))
}

fn prestop(
    obj: &Object,
    c: &Node,
    base: &str,
    prestop_given: bool,
) -> Result<Option<PreStop>, CheckError> {
    let Some(ps) = c.get("lifecycle").and_then(|l| l.get("preStop")) else {
        return Ok(None);
    };
    let field = format!("{base}.lifecycle.preStop");
    if let Some(sl) = ps.get("sleep") {
        let s = int_field(obj, sl.get("seconds"), &format!("{field}.sleep.seconds"), 0)?;
        return Ok(Some(PreStop::Sleep(SimDuration::from_secs(u64::from(s)))));
    }
    if let Some(ex) = ps.get("exec") {
        let cmd = strings(ex.get("command"));
        let script = match cmd.first().map(|s| s.rsplit('/').next().unwrap_or(s)) {
            Some("sleep") => cmd.get(1).cloned(),
            Some(sh) if SHELLS.contains(&sh) => cmd.get(2).cloned(),
            _ => None,
        };
        let secs = script.as_deref().and_then(|s| {
            let t = s.trim().strip_prefix("sleep ").unwrap_or(s.trim());
            let word = t
                .split(|c: char| c.is_whitespace() || c == ';' || c == '&')
                .next()?;
            word.trim_end_matches('s').parse::<f64>().ok()
        });
        return match secs {
            Some(s) if s >= 0.0 && s.is_finite() => Ok(Some(PreStop::Exec(SimDuration::from_secs_f64(s)))),
            _ if prestop_given => Ok(None),
            _ => Err(obj.invalid(
                Some(ex),
                &format!("{field}.exec.command"),
                format!("cannot tell how long {cmd:?} runs (only `sleep N`, directly or in sh -c, is read); say it with --set lifecycle.prestop=DURATION"),
            )),
        };
    }
    if prestop_given {
        return Ok(None);
    }
    Err(obj.invalid(
        Some(ps),
        &field,
        "an httpGet or tcpSocket preStop hook takes as long as the endpoint answers: say how long with --set lifecycle.prestop=DURATION",
    ))
}

fn probe(obj: &Object, c: &Node, base: &str) -> Result<Option<ReadinessProbe>, CheckError> {
    let Some(p) = c.get("readinessProbe").filter(|n| !n.is_null()) else {
        return Ok(None);
    };
    let f = |k: &str| format!("{base}.readinessProbe.{k}");
    let d = ReadinessProbe::default();
    let secs = |n: u32| SimDuration::from_secs(u64::from(n));
    let period = int_field(obj, p.get("periodSeconds"), &f("periodSeconds"), 10)?;
    let timeout = int_field(obj, p.get("timeoutSeconds"), &f("timeoutSeconds"), 1)?;
    let success = int_field(
        obj,
        p.get("successThreshold"),
        &f("successThreshold"),
        d.success_threshold,
    )?;
    let failure = int_field(
        obj,
        p.get("failureThreshold"),
        &f("failureThreshold"),
        d.failure_threshold,
    )?;
    for (v, k) in [
        (period, "periodSeconds"),
        (timeout, "timeoutSeconds"),
        (success, "successThreshold"),
        (failure, "failureThreshold"),
    ] {
        if v == 0 {
            return Err(obj.invalid(p.get(k), &f(k), "must be at least 1 (Kubernetes rejects 0)"));
        }
    }
    Ok(Some(ReadinessProbe {
        initial_delay: secs(int_field(
            obj,
            p.get("initialDelaySeconds"),
            &f("initialDelaySeconds"),
            0,
        )?),
        period: secs(period),
        success_threshold: success,
        failure_threshold: failure,
        timeout: secs(timeout),
    }))
}

/// Everything read from the objects: the Deployments that serve traffic, the ones that do not,
/// and notes about the rest (PDBs).
#[derive(Debug, Clone)]
pub struct Read {
    /// Deployments a Service selects.
    pub serving: Vec<Workload>,
    /// `namespace/name` of Deployments no Service selects (not simulated).
    pub not_serving: Vec<String>,
    /// Documents of other kinds.
    pub skipped: Vec<Skipped>,
    /// Notes that concern the input as a whole.
    pub notes: Vec<String>,
}

/// What the command line says about mapping (the proxy preset override, and which settings
/// `--set` gives so the manifest need not).
#[derive(Debug, Clone, Default)]
pub struct MapOptions {
    /// `--proxy`: overrides the preset read from the manifests.
    pub proxy: Option<Preset>,
    /// `--set lifecycle.prestop=...` was given (so a preStop hook of unknown length is fine).
    pub prestop_given: bool,
}

/// Maps objects to workloads.
pub fn read(
    objects: &[Object],
    skipped: Vec<Skipped>,
    opts: &MapOptions,
) -> Result<Read, CheckError> {
    let of = |k: &'static str| objects.iter().filter(move |o| o.kind == k);
    let mut serving = Vec::new();
    let mut not_serving = Vec::new();
    let mut notes = Vec::new();
    for pdb in of("PodDisruptionBudget") {
        notes.push(format!(
            "{} ({}:{}): a PodDisruptionBudget limits evictions (drains, autoscaler) and does not gate a Deployment's rollout; not used in the prediction",
            pdb.title(),
            pdb.doc.file,
            pdb.doc.root.line
        ));
    }
    for dep in of("Deployment") {
        let spec = dep
            .path(&["spec"])
            .ok_or_else(|| dep.invalid(None, "spec", "missing"))?;
        let tpl_spec = dep
            .path(&["spec", "template", "spec"])
            .ok_or_else(|| dep.invalid(Some(spec), "spec.template.spec", "missing"))?;
        let labels = string_map(dep.path(&["spec", "template", "metadata", "labels"]));
        let annotations = string_map(dep.path(&["spec", "template", "metadata", "annotations"]));
        let services: Vec<&Object> = of("Service")
            .filter(|s| s.namespace == dep.namespace)
            .filter(|s| selects(&string_map(s.path(&["spec", "selector"])), &labels))
            .collect();
        let id = format!("{}/{}", dep.namespace, dep.name);
        let containers = tpl_spec
            .get("containers")
            .and_then(Node::items)
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                dep.invalid(
                    Some(tpl_spec),
                    "spec.template.spec.containers",
                    "a pod needs at least one container",
                )
            })?;
        if services.is_empty() {
            not_serving.push(id);
            continue;
        }
        // The serving container: the first (not a mesh proxy) whose port a Service targets.
        let mut chosen: Option<(usize, Option<String>)> = None;
        let mut any_port = false;
        for (i, c) in containers.iter().enumerate() {
            let cname = c.get("name").and_then(Node::scalar).unwrap_or("");
            if matches!(cname, "istio-proxy" | "linkerd-proxy") {
                continue;
            }
            let ports: Vec<(Option<String>, Option<String>)> = c
                .get("ports")
                .and_then(Node::items)
                .unwrap_or(&[])
                .iter()
                .map(|p| {
                    (
                        p.get("name").and_then(Node::scalar).map(str::to_string),
                        p.get("containerPort")
                            .and_then(Node::scalar)
                            .map(str::to_string),
                    )
                })
                .collect();
            any_port |= !ports.is_empty();
            for s in &services {
                for sp in s
                    .path(&["spec", "ports"])
                    .and_then(Node::items)
                    .unwrap_or(&[])
                {
                    let target = sp
                        .get("targetPort")
                        .or_else(|| sp.get("port"))
                        .and_then(Node::scalar)
                        .unwrap_or("");
                    if let Some((_, num)) = ports.iter().find(|(n, num)| {
                        n.as_deref() == Some(target) || num.as_deref() == Some(target)
                    }) && chosen.is_none()
                    {
                        chosen = Some((i, num.clone()));
                    }
                }
            }
        }
        if !any_port {
            return Err(dep.invalid(
                Some(&containers[0]),
                "spec.template.spec.containers[0].ports",
                format!(
                    "{} selects this Deployment, but no container declares a containerPort: say which port serves (the check needs it to find the serving container, and a fix's readiness probe needs it)",
                    services[0].title()
                ),
            ));
        }
        let mut dep_notes = Vec::new();
        let (ci, port) = chosen.unwrap_or_else(|| {
            dep_notes.push(format!(
                "no Service port matches a named or numbered containerPort; the first container is taken as the serving one ({})",
                services[0].title()
            ));
            (0, None)
        });
        let c = &containers[ci];
        let base = format!("spec.template.spec.containers[{ci}]");
        let cname = c
            .get("name")
            .and_then(Node::scalar)
            .unwrap_or("")
            .to_string();

        // Replicas: an HPA's minReplicas wins (the rollout can start at the floor).
        let mut replicas = int_field(dep, spec.get("replicas"), "spec.replicas", 1)?;
        let mut replicas_from = if spec.get("replicas").is_some() {
            "spec.replicas".to_string()
        } else {
            "spec.replicas absent: Kubernetes default 1".to_string()
        };
        for hpa in of("HorizontalPodAutoscaler").filter(|h| h.namespace == dep.namespace) {
            let target = hpa.path(&["spec", "scaleTargetRef"]);
            let kind = target.and_then(|t| t.get("kind")).and_then(Node::scalar);
            let name = target.and_then(|t| t.get("name")).and_then(Node::scalar);
            if kind == Some("Deployment") && name == Some(dep.name.as_str()) {
                let min = int_field(
                    hpa,
                    hpa.path(&["spec", "minReplicas"]),
                    "spec.minReplicas",
                    1,
                )?;
                let max = int_field(
                    hpa,
                    hpa.path(&["spec", "maxReplicas"]),
                    "spec.maxReplicas",
                    1,
                )?;
                if min == 0 || max < min {
                    return Err(hpa.invalid(
                        hpa.path(&["spec", "maxReplicas"]),
                        "spec.maxReplicas",
                        format!("minReplicas {min} and maxReplicas {max}: need 1 <= min <= max"),
                    ));
                }
                replicas = min;
                replicas_from = format!(
                    "{} minReplicas {min} (maxReplicas {max}; the fewest pods the rollout can meet, the worst case)",
                    hpa.title()
                );
            }
        }
        if replicas == 0 {
            return Err(dep.invalid(
                spec.get("replicas"),
                "spec.replicas",
                "0 replicas: nothing rolls",
            ));
        }

        // Strategy.
        let strategy = spec.get("strategy");
        let stype = strategy
            .and_then(|s| s.get("type"))
            .and_then(Node::scalar)
            .unwrap_or("RollingUpdate");
        if stype != "RollingUpdate" {
            return Err(dep.invalid(
                strategy.and_then(|s| s.get("type")),
                "spec.strategy.type",
                format!("{stype}: the model rolls RollingUpdate Deployments only (Recreate stops every pod before starting new ones: every request in between fails)"),
            ));
        }
        let ru = strategy.and_then(|s| s.get("rollingUpdate"));
        let max_surge = match ru.and_then(|r| r.get("maxSurge")) {
            Some(n) => int_or_percent(dep, n, "spec.strategy.rollingUpdate.maxSurge")?,
            None => IntOrPercent::Percent(25),
        };
        let max_unavailable = match ru.and_then(|r| r.get("maxUnavailable")) {
            Some(n) => int_or_percent(dep, n, "spec.strategy.rollingUpdate.maxUnavailable")?,
            None => IntOrPercent::Percent(25),
        };
        let zero = |v: IntOrPercent| matches!(v, IntOrPercent::Int(0) | IntOrPercent::Percent(0));
        if zero(max_surge) && zero(max_unavailable) {
            return Err(dep.invalid(
                ru.and_then(|r| r.get("maxUnavailable")).or(ru),
                "spec.strategy.rollingUpdate.maxUnavailable",
                format!("maxSurge {max_surge} and maxUnavailable {max_unavailable}: Kubernetes rejects a strategy that can neither add nor remove a pod"),
            ));
        }
        let strategy_loc = dep.loc(
            ru.or(strategy).unwrap_or(spec),
            if ru.is_some() {
                "spec.strategy.rollingUpdate"
            } else {
                "spec.strategy"
            },
        );
        let min_ready = int_field(dep, spec.get("minReadySeconds"), "spec.minReadySeconds", 0)?;
        let grace_node = tpl_spec.get("terminationGracePeriodSeconds");
        let grace = int_field(
            dep,
            grace_node,
            "spec.template.spec.terminationGracePeriodSeconds",
            30,
        )?;
        let grace_loc = dep.loc(
            grace_node.unwrap_or(tpl_spec),
            "spec.template.spec.terminationGracePeriodSeconds",
        );
        let prestop = prestop(dep, c, &base, opts.prestop_given)?;
        let prestop_loc = dep.loc(
            c.get("lifecycle")
                .and_then(|l| l.get("preStop"))
                .unwrap_or(c),
            &format!("{base}.lifecycle.preStop"),
        );
        let readiness = probe(dep, c, &base)?;
        let readiness_loc = dep.loc(
            c.get("readinessProbe").unwrap_or(c),
            &format!("{base}.readinessProbe"),
        );
        let ep = entrypoint(&strings(c.get("command")), &strings(c.get("args")));
        let entrypoint_loc = dep.loc(c.get("command").unwrap_or(c), &format!("{base}.command"));
        if !ep.from_manifest {
            dep_notes.push(format!("{base}.command is not set: the image's ENTRYPOINT decides whether SIGTERM reaches the application; exec form assumed (--set container.entrypoint=shell if the image uses the shell form)"));
        }

        let balancer = balancer(
            dep,
            &services,
            objects,
            &annotations,
            &labels,
            opts,
            &mut dep_notes,
        )?;
        serving.push(Workload {
            object: dep.clone(),
            id,
            replicas,
            replicas_from,
            max_surge,
            max_unavailable,
            strategy_loc,
            min_ready,
            grace,
            grace_loc,
            container: cname,
            container_index: ci,
            prestop,
            prestop_loc,
            readiness,
            readiness_loc,
            entrypoint: ep,
            entrypoint_loc,
            port,
            labels,
            annotations,
            balancer,
            notes: dep_notes,
        });
    }
    Ok(Read {
        serving,
        not_serving,
        skipped,
        notes,
    })
}

fn annotation<'a>(a: &'a [(String, String)], key: &str) -> Option<&'a str> {
    a.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

// The AWS Load Balancer Controller's annotations. Names, values and defaults from its docs,
// kubernetes-sigs.github.io/aws-load-balancer-controller: "Ingress annotations"
// (docs/guide/ingress/annotations.md) and "Service annotations"
// (docs/guide/service/annotations.md) in kubernetes-sigs/aws-load-balancer-controller.
/// `instance` (the default) or `ip`; on the Ingress or the backend Service.
const ALB_TARGET_TYPE: &str = "alb.ingress.kubernetes.io/target-type";
/// Seconds between health checks of a target (default 15).
const ALB_HC_INTERVAL: &str = "alb.ingress.kubernetes.io/healthcheck-interval-seconds";
/// Passing checks before a target is healthy (default 2).
const ALB_HEALTHY_THRESHOLD: &str = "alb.ingress.kubernetes.io/healthy-threshold-count";
/// Failed checks before a target is unhealthy (default 2).
const ALB_UNHEALTHY_THRESHOLD: &str = "alb.ingress.kubernetes.io/unhealthy-threshold-count";
/// Target-group attributes, `k1=v1,k2=v2`.
const ALB_TG_ATTRIBUTES: &str = "alb.ingress.kubernetes.io/target-group-attributes";
/// `external` or `nlb-ip` (deprecated, IP targets): the controller makes an NLB. Any other
/// value leaves the Service to the legacy cloud provider ("Legacy Cloud Provider"), whose
/// `nlb` is an NLB with instance targets.
const NLB_TYPE: &str = "service.beta.kubernetes.io/aws-load-balancer-type";
/// `instance` or `ip`; the controller's default target type is instance (its
/// `--default-target-type`; "default `instance` in case of LoadBalancerClass").
const NLB_TARGET_TYPE: &str = "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type";
/// Seconds between health checks (default 10).
const NLB_HC_INTERVAL: &str = "service.beta.kubernetes.io/aws-load-balancer-healthcheck-interval";
/// Passing checks before a target is healthy (default 3).
const NLB_HEALTHY_THRESHOLD: &str =
    "service.beta.kubernetes.io/aws-load-balancer-healthcheck-healthy-threshold";
/// Failed checks before a target is unhealthy (default 3).
const NLB_UNHEALTHY_THRESHOLD: &str =
    "service.beta.kubernetes.io/aws-load-balancer-healthcheck-unhealthy-threshold";
/// Target-group attributes, `k1=v1,k2=v2`.
const NLB_TG_ATTRIBUTES: &str =
    "service.beta.kubernetes.io/aws-load-balancer-target-group-attributes";
/// `spec.loadBalancerClass` of a Service the AWS Load Balancer Controller reconciles.
const LBC_CLASS: &str = "service.k8s.aws/nlb";
/// The target-group attribute of the deregistration delay (0-3600 s; AWS default 300).
const DEREGISTRATION: &str = "deregistration_delay.timeout_seconds";
/// NLB target-group attribute: reset the flows still open when the deregistration delay ends
/// (default false; AWS ELB docs, "Edit target group attributes for your Network Load
/// Balancer").
const TERMINATION: &str = "deregistration_delay.connection_termination.enabled";
/// GKE: `{"ingress": true}` makes an Ingress use network endpoint groups (pod IPs as targets;
/// cloud.google.com/kubernetes-engine/docs/how-to/container-native-load-balancing).
const GKE_NEG: &str = "cloud.google.com/neg";

/// An annotation as written: the object that has it and the node (for the line).
#[derive(Clone, Copy)]
struct Ann<'a> {
    key: &'static str,
    value: &'a str,
    obj: &'a Object,
    node: &'a Node,
}

impl<'a> Ann<'a> {
    /// `key` on the first of `objs` that has it (the controller's order of precedence).
    fn find(objs: &[&'a Object], key: &'static str) -> Result<Option<Ann<'a>>, CheckError> {
        for &obj in objs {
            let Some(node) = obj
                .path(&["metadata", "annotations"])
                .and_then(|a| a.get(key))
            else {
                continue;
            };
            let value = node.scalar().ok_or_else(|| {
                obj.invalid(
                    Some(node),
                    &format!("metadata.annotations[{key}]"),
                    format!("an annotation is a string, not a {}", node.type_name()),
                )
            })?;
            return Ok(Some(Ann {
                key,
                value: value.trim(),
                obj,
                node,
            }));
        }
        Ok(None)
    }

    fn field(&self) -> String {
        format!("metadata.annotations[{}]", self.key)
    }

    /// `key: value on Kind/name`, for the reasons printed.
    fn said(&self) -> String {
        format!("{}: {} on {}", self.key, self.value, self.obj.title())
    }

    fn invalid(&self, reason: impl Into<String>) -> CheckError {
        self.obj.invalid(Some(self.node), &self.field(), reason)
    }

    fn loc(&self) -> Loc {
        self.obj.loc(self.node, &self.field())
    }

    /// A whole number from `lo` to `hi` (the model's bounds for the field it goes into).
    fn int(&self, lo: u64, hi: u64, unit: &str) -> Result<u64, CheckError> {
        match self.value.parse::<u64>() {
            Ok(v) if (lo..=hi).contains(&v) => Ok(v),
            Ok(v) => Err(self.invalid(format!("{v} {unit}: the model takes {lo} to {hi}"))),
            Err(_) => {
                Err(self.invalid(format!("{:?} is not a whole number of {unit}", self.value)))
            }
        }
    }

    /// `deregistration_delay.timeout_seconds` of a target-group attributes map
    /// (`k1=v1,k2=v2`), 0 to 3600 s.
    fn deregistration_delay(&self) -> Result<Option<u64>, CheckError> {
        let mut delay = None;
        for kv in self
            .value
            .split(',')
            .map(str::trim)
            .filter(|kv| !kv.is_empty())
        {
            let Some((k, v)) = kv.split_once('=') else {
                return Err(self.invalid(format!(
                    "{kv:?} is not key=value (target-group attributes are k1=v1,k2=v2)"
                )));
            };
            if k.trim() == DEREGISTRATION {
                let v = v.trim();
                delay = Some(match v.parse::<u64>() {
                    Ok(d) if d <= 3_600 => d,
                    _ => {
                        return Err(self.invalid(format!(
                            "{DEREGISTRATION}={v:?} is not a whole number of seconds from 0 to 3600"
                        )));
                    }
                });
            }
        }
        Ok(delay)
    }

    /// `deregistration_delay.connection_termination.enabled` in a target-group attributes
    /// annotation (`None` when absent).
    fn connection_termination(&self) -> Result<Option<bool>, CheckError> {
        for kv in self.value.split(',').map(str::trim) {
            if let Some((k, v)) = kv.split_once('=')
                && k.trim() == TERMINATION
            {
                return match v.trim() {
                    "true" => Ok(Some(true)),
                    "false" => Ok(Some(false)),
                    v => Err(self.invalid(format!("{TERMINATION}={v:?}: true or false"))),
                };
            }
        }
        Ok(None)
    }
}

/// A cloud balancer controller's health-check annotations and target-group attributes, as
/// read from the objects in its order of precedence.
struct HealthChecks<'a> {
    interval: Option<Ann<'a>>,
    healthy: Option<Ann<'a>>,
    unhealthy: Option<Ann<'a>>,
    attrs: Option<Ann<'a>>,
    /// The three checks' values, parsed and in range: seconds, checks, checks.
    values: [Option<u64>; 3],
    /// `deregistration_delay.timeout_seconds` in the attributes.
    delay: Option<u64>,
}

impl<'a> HealthChecks<'a> {
    /// Reads `[interval, healthy threshold, unhealthy threshold, target-group attributes]`;
    /// a value that does not parse is an error naming its annotation.
    fn find(objs: &[&'a Object], keys: [&'static str; 4]) -> Result<Self, CheckError> {
        let [interval, healthy, unhealthy, attrs] = keys;
        let (interval, healthy, unhealthy, attrs) = (
            Ann::find(objs, interval)?,
            Ann::find(objs, healthy)?,
            Ann::find(objs, unhealthy)?,
            Ann::find(objs, attrs)?,
        );
        let value = |a: &Option<Ann>, hi, unit| a.as_ref().map(|a| a.int(1, hi, unit)).transpose();
        let values = [
            value(&interval, 300, "seconds")?,
            value(&healthy, 10, "checks")?,
            value(&unhealthy, 10, "checks")?,
        ];
        let delay = attrs
            .as_ref()
            .map(|a| a.deregistration_delay())
            .transpose()?
            .flatten();
        Ok(HealthChecks {
            interval,
            healthy,
            unhealthy,
            attrs,
            values,
            delay,
        })
    }

    /// With pod targets: the checks go into the model, and each annotation into the reason.
    fn apply(&self, read: &mut BalancerRead) {
        let [interval, healthy, unhealthy] = self.values;
        read.health_check_interval_s = interval;
        read.healthy_threshold = healthy.map(|n| n as u32);
        read.unhealthy_threshold = unhealthy.map(|n| n as u32);
        for a in [&self.interval, &self.healthy, &self.unhealthy]
            .into_iter()
            .flatten()
        {
            read.because.push_str(&format!("; {}", a.said()));
        }
    }

    /// With node targets: each annotation given is a note saying why it does not act.
    fn note_inert(&self, notes: &mut Vec<String>, why: &str) {
        for a in [&self.interval, &self.healthy, &self.unhealthy]
            .into_iter()
            .flatten()
        {
            notes.push(format!("{}: {why}", a.said()));
        }
    }
}

/// `Kind/name or Kind/name`.
fn titles(objs: &[&Object]) -> String {
    objs.iter()
        .map(|o| o.title())
        .collect::<Vec<_>>()
        .join(" or ")
}

/// An Ingress of class `alb` (AWS Load Balancer Controller): `target-type: ip` ->
/// `aws_alb_ip`; `instance` or absent (the controller's default) -> `aws_alb_instance`, whose
/// preset implies the kube-proxy hop (no `via` is set). With IP targets the health-check
/// annotations and the deregistration delay go into the model; with instance targets they act
/// on the nodes, which a rollout does not change, and a note says so. The controller reads
/// these annotations on the Ingress and on the backend Service, the Service's first
/// ("Annotations applied to Service have higher priority over annotations applied to
/// Ingress", the controller's Ingress annotations page).
fn alb_ingress(
    ing: &Object,
    backends: &[&Object],
    class_loc: Loc,
    notes: &mut Vec<String>,
) -> Result<BalancerRead, CheckError> {
    let mut from: Vec<&Object> = backends.to_vec();
    from.push(ing);
    let tt = Ann::find(&from, ALB_TARGET_TYPE)?;
    let ip = match tt {
        Some(a) if a.value == "ip" => true,
        Some(a) if a.value == "instance" => false,
        Some(a) => return Err(a.invalid(format!("{:?}: ip or instance", a.value))),
        None => false,
    };
    let preset = if ip {
        Preset::AwsAlbIp
    } else {
        Preset::AwsAlbInstance
    };
    let decided = match tt {
        Some(a) => a.said(),
        None => format!(
            "no {ALB_TARGET_TYPE} on {}: the controller's default, instance",
            titles(&from)
        ),
    };
    let mut read = BalancerRead {
        because: format!(
            "{} with ingress class \"alb\" (AWS Load Balancer Controller), {decided}: the {} preset, {}",
            ing.title(),
            preset.name(),
            if ip {
                "pod IPs are the targets"
            } else {
                "the targets are the nodes' NodePorts and kube-proxy on the node picks the pod (the preset implies that hop)"
            }
        ),
        loc: Some(tt.map_or(class_loc, |a| a.loc())),
        ..BalancerRead::new(preset)
    };
    let hc = HealthChecks::find(
        &from,
        [
            ALB_HC_INTERVAL,
            ALB_HEALTHY_THRESHOLD,
            ALB_UNHEALTHY_THRESHOLD,
            ALB_TG_ATTRIBUTES,
        ],
    )?;
    let (delay, attrs) = (hc.delay, hc.attrs);
    if ip {
        hc.apply(&mut read);
        read.deregistration_delay_s = Some(delay.unwrap_or(300));
        match (delay, attrs) {
            (Some(d), Some(a)) => read.because.push_str(&format!(
                "; deregistration delay {d} s ({DEREGISTRATION} in {ALB_TG_ATTRIBUTES} on {})",
                a.obj.title()
            )),
            _ => read.because.push_str(&format!(
                "; deregistration delay 300 s (the AWS default: no {DEREGISTRATION} in {ALB_TG_ATTRIBUTES})"
            )),
        }
    } else {
        let nodes = "in instance mode the ALB's targets are the nodes, which a rollout does not change, so it does not act on the pods and does not enter the prediction";
        hc.note_inert(notes, nodes);
        if let (Some(d), Some(a)) = (delay, attrs) {
            notes.push(format!(
                "{DEREGISTRATION}={d} ({ALB_TG_ATTRIBUTES} on {}): {nodes}",
                a.obj.title()
            ));
        }
    }
    Ok(read)
}

/// An Ingress of class `gce` (GKE): container-native load balancing (network endpoint groups,
/// pod IPs as targets) when a backend Service has `cloud.google.com/neg: '{"ingress": true}'`
/// -> `gclb_neg`; else instance groups (NodePorts, kube-proxy picks the pod) -> `cloud_lb` via
/// `kube_proxy_iptables`, as the model has no GCLB instance-group preset.
fn gce_ingress(
    ing: &Object,
    backends: &[&Object],
    class_loc: Loc,
) -> Result<BalancerRead, CheckError> {
    let mut neg = None;
    let mut without = None;
    for s in backends {
        let Some(a) = Ann::find(&[s], GKE_NEG)? else {
            continue;
        };
        let v: serde_json::Value = serde_json::from_str(a.value).map_err(|e| {
            a.invalid(format!(
                "{:?} is not JSON ({e}); GKE reads an object such as {{\"ingress\": true}}",
                a.value
            ))
        })?;
        if !v.is_object() {
            return Err(a.invalid(format!(
                "{:?}: GKE reads a JSON object such as {{\"ingress\": true}}",
                a.value
            )));
        }
        match v.get("ingress") {
            Some(serde_json::Value::Bool(true)) => {
                neg = Some(a);
                break;
            }
            None | Some(serde_json::Value::Bool(false)) => without = Some(a),
            Some(other) => {
                return Err(a.invalid(format!("\"ingress\": {other}: true or false")));
            }
        }
    }
    let ing_title = ing.title();
    Ok(match neg {
        Some(a) => BalancerRead {
            because: format!(
                "{ing_title} with ingress class \"gce\" (GKE), {}: container-native load balancing, pod IPs are the targets: the gclb_neg preset (health checks and connection draining are the preset's: a BackendConfig is not read; --set balancer.health_check_interval, balancer.healthy_threshold, balancer.deregistration_delay say yours)",
                a.said()
            ),
            loc: Some(a.loc()),
            ..BalancerRead::new(Preset::GclbNeg)
        },
        None => BalancerRead {
            via: Some(Preset::KubeProxyIptables),
            because: format!(
                "{ing_title} with ingress class \"gce\" (GKE), {}: instance groups, the targets are the nodes' NodePorts and kube-proxy picks the pod; the model has no preset for GCLB with instance groups, so cloud_lb via kube_proxy_iptables: the outer hop's statuses and timeouts are cloud_lb's (AWS ALB's), an assumption for Google's load balancer (on VPC-native clusters GKE may use NEGs by default, which the manifest cannot show: add {GKE_NEG}: '{{\"ingress\": true}}' to the Service to say so)",
                match without {
                    Some(a) => format!("{} does not ask for NEGs for Ingress", a.said()),
                    None => format!("no {GKE_NEG} on {}", titles(backends)),
                }
            ),
            loc: Some(class_loc),
            ..BalancerRead::new(Preset::CloudLb)
        },
    })
}

/// A Service of type LoadBalancer. An NLB of the AWS Load Balancer Controller
/// (`aws-load-balancer-type: external` with `nlb-target-type`, or `nlb-ip`, or
/// `spec.loadBalancerClass: service.k8s.aws/nlb`): IP targets -> `aws_nlb_ip` (with its
/// health-check annotations), instance targets (the default) -> `aws_nlb_instance`. The legacy
/// cloud provider's `aws-load-balancer-type: nlb` -> `aws_nlb_instance`. Anything else: a
/// cloud load balancer with NodePort targets, `cloud_lb` via kube-proxy, printed as assumed.
fn load_balancer_service(s: &Object, notes: &mut Vec<String>) -> Result<BalancerRead, CheckError> {
    let from = [s];
    let lb_type = Ann::find(&from, NLB_TYPE)?;
    let target_type = Ann::find(&from, NLB_TARGET_TYPE)?;
    let class_node = s.path(&["spec", "loadBalancerClass"]);
    let class = class_node.and_then(Node::scalar);
    let type_node = s.path(&["spec", "type"]).unwrap_or(&s.doc.root);
    let title = s.title();
    // Who makes the load balancer, and whether its targets are pod IPs; `loc` is where the
    // deciding setting is written.
    let mut decided = Vec::new();
    let mut loc = lb_type.map(|a| a.loc());
    let ip = match lb_type {
        Some(a) if a.value == "nlb-ip" => {
            decided.push(format!("{} (deprecated: IP targets)", a.said()));
            Some(true)
        }
        Some(a) if a.value == "external" => {
            decided.push(a.said());
            None
        }
        Some(a) if a.value == "nlb" => {
            decided.push(format!(
                "{} (the legacy cloud provider's NLB: instance targets; {NLB_TARGET_TYPE} is the AWS Load Balancer Controller's)",
                a.said()
            ));
            Some(false)
        }
        Some(a) => {
            return Err(a.invalid(format!(
                "{:?}: external or nlb-ip (the AWS Load Balancer Controller makes an NLB) or nlb (the legacy cloud provider's NLB); another value leaves the Service to the legacy cloud provider, a Classic ELB the check has no preset for",
                a.value
            )));
        }
        None if class == Some(LBC_CLASS) => {
            decided.push(format!("spec.loadBalancerClass: {LBC_CLASS} on {title}"));
            loc = class_node.map(|n| s.loc(n, "spec.loadBalancerClass"));
            None
        }
        None if target_type.is_some() => {
            decided.push(format!(
                "no {NLB_TYPE}: external and no spec.loadBalancerClass: {LBC_CLASS}, so the AWS Load Balancer Controller is assumed to make the NLB (as the cluster's default LoadBalancer class)"
            ));
            None
        }
        None => {
            let class_said = class.map_or(String::new(), |c| {
                format!(" (spec.loadBalancerClass {c:?} names no preset)")
            });
            return Ok(BalancerRead {
                via: Some(Preset::KubeProxyIptables),
                because: format!(
                    "{title} is type LoadBalancer with no annotation that names its load balancer ({NLB_TYPE}: external or nlb-ip, {NLB_TARGET_TYPE}, or spec.loadBalancerClass: {LBC_CLASS}){class_said}: the cluster's cloud provider makes it, which the manifest does not say; assumed: a cloud load balancer with the nodes' NodePorts as targets, kube-proxy picks the pod: cloud_lb via kube_proxy_iptables (the outer hop's statuses and timeouts are cloud_lb's, an L7 ALB's; for an L4 balancer such as an NLB say --proxy aws_nlb_instance)"
                ),
                loc: Some(s.loc(type_node, "spec.type")),
                ..BalancerRead::new(Preset::CloudLb)
            });
        }
    };
    let ip = match (ip, target_type) {
        (Some(ip), _) => ip,
        (None, Some(a)) if a.value == "ip" || a.value == "instance" => {
            decided.push(a.said());
            loc = Some(a.loc());
            a.value == "ip"
        }
        (None, Some(a)) => return Err(a.invalid(format!("{:?}: ip or instance", a.value))),
        (None, None) => {
            decided.push(format!(
                "no {NLB_TARGET_TYPE}: the controller's default, instance"
            ));
            false
        }
    };
    let preset = if ip {
        Preset::AwsNlbIp
    } else {
        Preset::AwsNlbInstance
    };
    let mut read = BalancerRead {
        because: format!(
            "{title} is type LoadBalancer, {}: an NLB, the {} preset, {}",
            decided.join(", "),
            preset.name(),
            if ip {
                "pod IPs are the targets (L4 pass-through: a refused or reset connection reaches the client)"
            } else {
                "the targets are the nodes' NodePorts and kube-proxy on the node picks the pod (for a rollout, kube-proxy's numbers)"
            }
        ),
        loc: Some(loc.unwrap_or_else(|| s.loc(type_node, "spec.type"))),
        ..BalancerRead::new(preset)
    };
    let hc = HealthChecks::find(
        &from,
        [
            NLB_HC_INTERVAL,
            NLB_HEALTHY_THRESHOLD,
            NLB_UNHEALTHY_THRESHOLD,
            NLB_TG_ATTRIBUTES,
        ],
    )?;
    let (delay, attrs) = (hc.delay, hc.attrs);
    if ip {
        hc.apply(&mut read);
        let termination = attrs
            .map(|a| a.connection_termination())
            .transpose()?
            .flatten();
        if termination == Some(true) {
            read.connection_termination = Some(true);
            read.deregistration_delay_s = delay;
            read.because.push_str(&format!(
                "; {TERMINATION}=true ({NLB_TG_ATTRIBUTES} on {title}): the flows still open when the deregistration delay ({} s) ends are reset",
                delay.unwrap_or(300)
            ));
        } else if let Some(d) = delay {
            notes.push(format!(
                "{DEREGISTRATION}={d} ({NLB_TG_ATTRIBUTES} on {title}): with connection termination off (the NLB's default; {TERMINATION}) established flows go on after the delay, so it does not enter the prediction"
            ));
        }
    } else {
        let nodes = "with instance targets the NLB's targets are the nodes, which a rollout does not change, so it does not act on the pods and does not enter the prediction";
        hc.note_inert(notes, nodes);
        if let Some(d) = delay {
            notes.push(format!(
                "{DEREGISTRATION}={d} ({NLB_TG_ATTRIBUTES} on {title}): {nodes}"
            ));
        }
    }
    Ok(read)
}

fn balancer(
    dep: &Object,
    services: &[&Object],
    objects: &[Object],
    pod_annotations: &[(String, String)],
    pod_labels: &[(String, String)],
    opts: &MapOptions,
    dep_notes: &mut Vec<String>,
) -> Result<BalancerRead, CheckError> {
    let mut read = BalancerRead {
        because: format!(
            "{} (ClusterIP): kube-proxy picks a pod per connection",
            services[0].title()
        ),
        loc: Some(services[0].loc(&services[0].doc.root, "kind")),
        ..BalancerRead::new(Preset::KubeProxyIptables)
    };
    // Notes on what the manifests say about the balancer that the prediction does not use;
    // dropped when --proxy replaces the balancer.
    let mut notes = Vec::new();
    // Sidecar injection: pod annotation or label, else the namespace's label.
    let ns = objects
        .iter()
        .find(|o| o.kind == "Namespace" && o.name == dep.namespace);
    let ns_labels = ns
        .map(|n| string_map(n.path(&["metadata", "labels"])))
        .unwrap_or_default();
    let istio_pod = annotation(pod_annotations, "sidecar.istio.io/inject")
        .or(annotation(pod_labels, "sidecar.istio.io/inject"));
    let istio = match istio_pod {
        Some(v) => v == "true",
        None => {
            annotation(&ns_labels, "istio-injection") == Some("enabled")
                || annotation(&ns_labels, "istio.io/rev").is_some()
        }
    };
    let linkerd = annotation(pod_annotations, "linkerd.io/inject")
        .map(|v| v == "enabled")
        .unwrap_or_else(|| {
            ns.map(|n| string_map(n.path(&["metadata", "annotations"])))
                .is_some_and(|a| annotation(&a, "linkerd.io/inject") == Some("enabled"))
        });
    let tpl_meta = dep.path(&["spec", "template", "metadata"]);
    if istio || linkerd {
        read.preset = if istio {
            Preset::EnvoySidecar
        } else {
            Preset::LinkerdSidecar
        };
        read.because = if istio {
            "Istio sidecar injection (sidecar.istio.io/inject or the namespace's istio-injection label): the client-side Envoy picks per request, the pod's Envoy drains for terminationDrainDuration".into()
        } else {
            "Linkerd injection (linkerd.io/inject: enabled): the linkerd_sidecar preset (the proxy refuses new requests at deletion; waitBeforeExitSeconds default 0)".into()
        };
        read.loc = tpl_meta.map(|m| dep.loc(m, "spec.template.metadata"));
        if let Some(cfg) = annotation(pod_annotations, "proxy.istio.io/config") {
            let field = "spec.template.metadata.annotations[proxy.istio.io/config]";
            let docs = yaml::parse(cfg, &dep.doc.file)
                .map_err(|e| dep.invalid(tpl_meta, field, format!("not YAML: {e}")))?;
            if let Some(d) = docs
                .first()
                .and_then(|d| d.root.get("terminationDrainDuration"))
                .and_then(Node::scalar)
            {
                let dur = measure::parse_duration_or_secs(d).map_err(|e| {
                    dep.invalid(
                        tpl_meta,
                        field,
                        format!("terminationDrainDuration {d:?}: {e}"),
                    )
                })?;
                read.sidecar_drain_s = Some(dur.as_secs_f64());
            }
        }
        const WAIT: &str = "config.alpha.linkerd.io/proxy-wait-before-exit-seconds";
        if let Some(v) = annotation(pod_annotations, WAIT).filter(|_| !istio) {
            let field = format!("spec.template.metadata.annotations[{WAIT}]");
            let secs = v.trim().parse::<u64>().map_err(|_| {
                dep.invalid(
                    tpl_meta,
                    &field,
                    format!("{v:?} is not a whole number of seconds"),
                )
            })?;
            read.wait_before_exit_s = Some(secs);
        }
    }
    let mesh_drain = read.sidecar_drain_s;
    let mesh_wait = read.wait_before_exit_s;
    // An Ingress or a LoadBalancer Service in front wins: it is where outside clients enter.
    let names: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
    for ing in objects
        .iter()
        .filter(|o| o.kind == "Ingress" && o.namespace == dep.namespace)
    {
        let mut backends = Vec::new();
        if let Some(b) = ing
            .path(&["spec", "defaultBackend", "service", "name"])
            .and_then(Node::scalar)
        {
            backends.push(b.to_string());
        }
        for rule in ing
            .path(&["spec", "rules"])
            .and_then(Node::items)
            .unwrap_or(&[])
        {
            for p in rule
                .get("http")
                .and_then(|h| h.get("paths"))
                .and_then(Node::items)
                .unwrap_or(&[])
            {
                if let Some(b) = p
                    .get("backend")
                    .and_then(|b| b.get("service"))
                    .and_then(|s| s.get("name"))
                    .and_then(Node::scalar)
                {
                    backends.push(b.to_string());
                }
            }
        }
        if !backends.iter().any(|b| names.contains(&b.as_str())) {
            continue;
        }
        // The Services this Ingress sends to that select the Deployment.
        let backend_services: Vec<&Object> = services
            .iter()
            .copied()
            .filter(|s| backends.contains(&s.name))
            .collect();
        let ann = string_map(ing.path(&["metadata", "annotations"]));
        let class_node = ing.path(&["spec", "ingressClassName"]);
        let class = class_node
            .and_then(Node::scalar)
            .or(annotation(&ann, "kubernetes.io/ingress.class"))
            .map(str::to_string);
        let loc = ing.loc(class_node.unwrap_or(&ing.doc.root), "spec.ingressClassName");
        match class.as_deref() {
            Some(c) if c.contains("nginx") => {
                read = BalancerRead {
                    because: format!("{} with ingress class {c:?}: ingress-nginx", ing.title()),
                    loc: Some(loc),
                    ..BalancerRead::new(Preset::IngressNginx)
                };
                if annotation(&ann, "nginx.ingress.kubernetes.io/service-upstream") == Some("true")
                {
                    read.via = Some(Preset::KubeProxyIptables);
                    read.because.push_str("; service-upstream: \"true\" sends through the Service's ClusterIP (kube-proxy picks the pod)");
                }
            }
            Some("alb") => {
                read = alb_ingress(ing, &backend_services, loc, &mut notes)?;
            }
            Some("gce") => {
                read = gce_ingress(ing, &backend_services, loc)?;
            }
            Some(c @ ("traefik" | "haproxy")) => {
                let preset = if c == "traefik" {
                    Preset::Traefik
                } else {
                    Preset::HaproxyIngress
                };
                read = BalancerRead {
                    because: format!(
                        "{} with ingress class {c:?}: the {} preset",
                        ing.title(),
                        preset.name()
                    ),
                    loc: Some(loc),
                    ..BalancerRead::new(preset)
                };
            }
            Some(c) if opts.proxy.is_none() => {
                return Err(ing.invalid(class_node, "spec.ingressClassName", format!("ingress class {c:?} has no preset in the model (ingress classes read: nginx, traefik, haproxy, alb, gce; presets: `fleetsim scenarios --reference`); pick the nearest with --proxy PRESET")));
            }
            None if annotation(&ann, "nginx.ingress.kubernetes.io/rewrite-target").is_some()
                || ann
                    .iter()
                    .any(|(k, _)| k.starts_with("nginx.ingress.kubernetes.io/")) =>
            {
                read = BalancerRead {
                    because: format!(
                        "{} names no ingress class (the cluster's default class serves it); its nginx.ingress.kubernetes.io annotations suggest ingress-nginx: assumed",
                        ing.title()
                    ),
                    loc: Some(loc),
                    ..BalancerRead::new(Preset::IngressNginx)
                };
            }
            None if opts.proxy.is_none() => {
                return Err(ing.invalid(None, "spec.ingressClassName", "no ingress class (spec.ingressClassName or the kubernetes.io/ingress.class annotation): the cluster's default class decides the proxy, which the manifest does not say; pick a preset with --proxy PRESET"));
            }
            _ => {}
        }
        break;
    }
    if read.preset == Preset::KubeProxyIptables || read.preset == Preset::EnvoySidecar {
        for s in services {
            let ty = s
                .path(&["spec", "type"])
                .and_then(Node::scalar)
                .unwrap_or("ClusterIP");
            if ty == "LoadBalancer" {
                read = load_balancer_service(s, &mut notes)?;
                break;
            }
        }
    }
    if let Some(p) = opts.proxy
        && p != read.preset
    {
        read = BalancerRead {
            because: format!(
                "--proxy {} (the manifests suggested {}: {})",
                p.name(),
                read.preset.name(),
                read.because
            ),
            ..BalancerRead::new(p)
        };
        notes.clear();
    }
    // Istio pods behind an entry balancer that is not the mesh: the chain is that balancer ->
    // the pod's Envoy -> the app.
    if istio && !matches!(read.preset, Preset::EnvoySidecar | Preset::LinkerdSidecar) {
        read.sidecar = Some(models::Sidecar::Envoy);
        read.sidecar_drain_s = mesh_drain;
        read.because.push_str(&format!(
            "; the pods' Istio sidecar sits behind it (sidecar = \"envoy\": it refuses new connections at deletion, drains for terminationDrainDuration {}, and answers 503 for requests the app cuts)",
            mesh_drain.map_or("5 s, the default".to_string(), |d| format!("{d} s"))
        ));
    }
    // Linkerd pods behind an entry balancer that is not the mesh: that balancer -> the pod's
    // Linkerd proxy -> the app.
    if linkerd && !istio && read.preset != Preset::LinkerdSidecar {
        read.sidecar = Some(models::Sidecar::Linkerd);
        read.wait_before_exit_s = mesh_wait;
        read.because.push_str(&format!(
            "; the pods' Linkerd proxy sits behind it (sidecar = \"linkerd\": it refuses new connections {} after deletion, lets in-flight requests finish, and answers 502 for requests the app cuts)",
            mesh_wait.map_or("at once (waitBeforeExitSeconds 0, the default)".to_string(), |w| format!("{w} s"))
        ));
    }
    dep_notes.extend(notes);
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn entrypoint_forms() {
        assert_eq!(
            entrypoint(&s(&["/bin/sh", "-c", "node server.js"]), &[]).form,
            Entrypoint::Shell
        );
        assert_eq!(
            entrypoint(&s(&["sh", "-c", "exec node server.js"]), &[]).form,
            Entrypoint::Exec
        );
        assert_eq!(
            entrypoint(&s(&["bash"]), &s(&["-c", "run"])).script,
            Some(("args".into(), 1, "run".into()))
        );
        assert_eq!(
            entrypoint(&s(&["/sbin/tini", "--", "app"]), &[]).form,
            Entrypoint::Init
        );
        assert_eq!(
            entrypoint(&s(&["./podinfo", "--port=9898"]), &[]).form,
            Entrypoint::Exec
        );
        assert!(!entrypoint(&[], &s(&["--x"])).from_manifest);
    }
}
