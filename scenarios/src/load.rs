//! Reading scenario files: TOML layers joined by `extends`, metadata stripped, every field's
//! origin (file and line) kept so an error can point at the line that set it.
//!
//! A scenario file is a TOML document with the sections of `models::Fleet` plus three metadata
//! keys at the top level:
//!
//! - `name`: the scenario's name (default: the file's stem);
//! - `description`: one line for listings and reports;
//! - `extends = ["base.toml", "calibration.toml"]`: files (relative to this one) whose tables are
//!   merged first, in order, then this file on top. Merging is deep for tables, and a later value
//!   wins. One exception: a table with a `kind` key (a distribution such as
//!   `{ kind = "uniform", low = "1s", high = "2s" }`) replaces the earlier value whole, so a
//!   lever file can swap a distribution's kind without leftover fields. The optional sections
//!   `[queue]` and `[nodes]` take `kind = "none"` to remove what a lower layer set.
//!
//! The metadata of extended files is dropped: only the top file names the scenario.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use toml::{Table, Value};

use crate::error::{FieldError, Origin, ScenarioError, line_col};
use crate::shipped;

/// The prefix that names a shipped file in `extends` from any folder: `shipped:after`.
pub(crate) const SHIPPED_PREFIX: &str = "shipped:";

/// The fleet's optional sections, which `kind = "none"` removes (`Fleet::queue`, `Fleet::nodes`).
const OPTIONAL_SECTIONS: &[&str] = &["queue", "nodes", "streams"];

/// Deepest `extends` chain accepted (a guard against runaway recursion, not a design limit).
const MAX_DEPTH: usize = 16;

/// The largest scenario file read (4 MiB; the shipped files are a few kB).
pub(crate) const MAX_FILE_BYTES: u64 = 4 << 20;

/// Reads a scenario file from disk: a regular file of at most [`MAX_FILE_BYTES`] (a device, a
/// FIFO or a folder is refused rather than read without end).
fn read_scenario_file(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file (a scenario is a TOML file)".into());
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!(
            "{} bytes, more than the {MAX_FILE_BYTES} a scenario file may have",
            meta.len()
        ));
    }
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_string(&mut text))
        .map_err(|e| e.to_string())?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(format!(
            "more than the {MAX_FILE_BYTES} bytes a scenario file may have"
        ));
    }
    Ok(text)
}

/// A scenario's merged TOML, before it is turned into a typed configuration.
#[derive(Debug, Clone)]
pub struct Source {
    /// The scenario's name: `name` in the top file, or its file stem.
    pub name: String,
    /// `description` in the top file.
    pub description: Option<String>,
    /// The merged tables, metadata removed.
    pub table: Table,
    /// The files read, in merge order (extended files first, the top file last).
    pub files: Vec<String>,
    origins: BTreeMap<String, Origin>,
}

/// Where the files of a scenario come from.
#[derive(Debug, Clone)]
enum Files {
    /// The file system; `extends` is relative to the extending file's folder.
    Disk,
    /// A flat set of named files (the shipped scenarios, plus any in-memory file).
    Memory(BTreeMap<String, String>),
}

impl Files {
    fn read(&self, id: &str) -> Result<String, String> {
        if let Some(name) = id.strip_prefix(SHIPPED_PREFIX) {
            return shipped::get(name)
                .map(str::to_string)
                .ok_or_else(|| format!("no shipped file named {name:?}"));
        }
        match self {
            Files::Disk => read_scenario_file(Path::new(id)),
            Files::Memory(m) => m
                .get(id)
                .cloned()
                .ok_or_else(|| format!("no shipped file named {id:?}")),
        }
    }

    /// `rel` as named in an `extends` of file `from`. `shipped:after` (or `shipped:after.toml`)
    /// names a shipped scenario from anywhere; so does a bare name (`after`, `before.toml`)
    /// when no such file exists next to `from`. A shipped file's own `extends` stay among the
    /// shipped files.
    fn resolve(&self, from: &str, rel: &str) -> String {
        if let Some(name) = rel.strip_prefix(SHIPPED_PREFIX) {
            return format!("{SHIPPED_PREFIX}{}", shipped_file_name(name));
        }
        if from.starts_with(SHIPPED_PREFIX) {
            return format!("{SHIPPED_PREFIX}{}", rel.trim_start_matches("./"));
        }
        match self {
            Files::Disk => {
                let base = Path::new(from).parent().unwrap_or(Path::new(""));
                let mut path = base.join(rel);
                let bare = !rel.contains('/') && !rel.contains('\\');
                if bare && !path.exists() && !rel.ends_with(".toml") {
                    let with_ext = base.join(shipped_file_name(rel));
                    if with_ext.exists() {
                        path = with_ext;
                    }
                }
                if !path.exists() && bare && shipped::get(&shipped_file_name(rel)).is_some() {
                    return format!("{SHIPPED_PREFIX}{}", shipped_file_name(rel));
                }
                path.to_string_lossy().into_owned()
            }
            Files::Memory(m) => {
                let name = rel.trim_start_matches("./");
                if !m.contains_key(name) && m.contains_key(&shipped_file_name(name)) {
                    shipped_file_name(name)
                } else {
                    name.to_string()
                }
            }
        }
    }

    /// The identity used for cycle detection.
    fn identity(&self, id: &str) -> String {
        if id.starts_with(SHIPPED_PREFIX) {
            return id.to_string();
        }
        match self {
            Files::Disk => std::fs::canonicalize(id)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_else(|_| id.to_string()),
            Files::Memory(_) => id.to_string(),
        }
    }
}

/// One file with what it extends already merged in.
struct Layer {
    table: Table,
    origins: BTreeMap<String, Origin>,
    files: Vec<String>,
    name: Option<String>,
    description: Option<String>,
}

/// Loads a scenario by path, or by the name of a shipped scenario (`before`, `after.toml`).
/// An existing file wins over a shipped name.
pub fn load(spec: &str) -> Result<Source, ScenarioError> {
    let path = Path::new(spec);
    if path.is_file() {
        return load_file(path);
    }
    let file = shipped_file_name(spec);
    if shipped::get(&file).is_some() {
        return load_shipped(&file);
    }
    Err(ScenarioError::Read {
        file: spec.to_string(),
        message: format!(
            "no such file, and no shipped scenario of that name (shipped: {})",
            shipped::scenario_names().join(", ")
        ),
    })
}

fn shipped_file_name(spec: &str) -> String {
    if spec.ends_with(".toml") {
        spec.to_string()
    } else {
        format!("{spec}.toml")
    }
}

/// Loads a scenario file from disk; `extends` paths are relative to each file.
pub fn load_file(path: &Path) -> Result<Source, ScenarioError> {
    let id = path.to_string_lossy().into_owned();
    let stem = stem_of(path);
    finish(Loader::new(Files::Disk).layer(&id, None, 0)?, stem)
}

/// Loads a shipped scenario by file name (`"after.toml"`).
pub fn load_shipped(file: &str) -> Result<Source, ScenarioError> {
    let files = Files::Memory(shipped::all().map(|(n, t)| (n.into(), t.into())).collect());
    finish(
        Loader::new(files).layer(file, None, 0)?,
        stem_of(Path::new(file)),
    )
}

/// Parses scenario text held in memory, named `name` in errors. Its `extends` resolve among the
/// shipped files. This is the fuzz target's entry point.
pub fn parse_str(name: &str, text: &str) -> Result<Source, ScenarioError> {
    let mut map: BTreeMap<String, String> =
        shipped::all().map(|(n, t)| (n.into(), t.into())).collect();
    map.insert(name.to_string(), text.to_string());
    finish(
        Loader::new(Files::Memory(map)).layer(name, Some(text.to_string()), 0)?,
        stem_of(Path::new(name)),
    )
}

fn stem_of(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scenario".into())
}

fn finish(layer: Layer, stem: String) -> Result<Source, ScenarioError> {
    Ok(Source {
        name: layer.name.unwrap_or(stem),
        description: layer.description,
        table: layer.table,
        files: layer.files,
        origins: layer.origins,
    })
}

struct Loader {
    files: Files,
    stack: Vec<(String, String)>,
}

impl Loader {
    fn new(files: Files) -> Loader {
        Loader {
            files,
            stack: Vec::new(),
        }
    }

    fn layer(
        &mut self,
        id: &str,
        text: Option<String>,
        depth: usize,
    ) -> Result<Layer, ScenarioError> {
        let identity = self.files.identity(id);
        if let Some(pos) = self.stack.iter().position(|(i, _)| *i == identity) {
            let mut chain: Vec<&str> = self.stack[pos..].iter().map(|(_, n)| n.as_str()).collect();
            chain.push(id);
            return Err(ScenarioError::Extends {
                file: self
                    .stack
                    .last()
                    .map_or(id, |(_, n)| n.as_str())
                    .to_string(),
                message: format!("cycle: {}", chain.join(" -> ")),
            });
        }
        if depth > MAX_DEPTH {
            return Err(ScenarioError::Extends {
                file: id.to_string(),
                message: format!("more than {MAX_DEPTH} levels of extends"),
            });
        }
        let text = match text {
            Some(t) => t,
            None => self.files.read(id).map_err(|message| ScenarioError::Read {
                file: id.to_string(),
                message,
            })?,
        };
        let mut table: Table = toml::from_str(&text).map_err(|e| {
            let (line, column) = e.span().map_or((1, 1), |span| line_col(&text, span.start));
            ScenarioError::Syntax {
                file: id.to_string(),
                line,
                column,
                message: e.message().trim().to_string(),
            }
        })?;
        let own_origins = origins_of(id, &text);
        let at = |key: &str| own_origins.get(key).cloned();

        let name = take_string(&mut table, "name", id, at("name"))?;
        let description = take_string(&mut table, "description", id, at("description"))?;
        let extends = match table.remove("extends") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    other => Err(extends_error(id, other.type_str())),
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(other) => return Err(extends_error(id, other.type_str())),
        };

        self.stack.push((identity, id.to_string()));
        let mut merged = Layer {
            table: Table::new(),
            origins: BTreeMap::new(),
            files: Vec::new(),
            name: None,
            description: None,
        };
        for rel in &extends {
            let child_id = self.files.resolve(id, rel);
            let child = self
                .layer(&child_id, None, depth + 1)
                .map_err(|e| match e {
                    ScenarioError::Read { file, message } if file == child_id => {
                        ScenarioError::Extends {
                            file: id.to_string(),
                            message: format!("{rel:?}: {message}"),
                        }
                    }
                    other => other,
                })?;
            merge_tables(&mut merged.table, child.table);
            merged.origins.extend(child.origins);
            for f in child.files {
                if !merged.files.contains(&f) {
                    merged.files.push(f);
                }
            }
        }
        self.stack.pop();

        merge_tables(&mut merged.table, table);
        merged.origins.extend(
            own_origins
                .into_iter()
                .filter(|(k, _)| !matches!(k.as_str(), "name" | "description" | "extends")),
        );
        merged.files.push(id.to_string());
        merged.name = name;
        merged.description = description;
        Ok(merged)
    }
}

fn extends_error(id: &str, found: &str) -> ScenarioError {
    ScenarioError::Extends {
        file: id.to_string(),
        message: format!(
            "expected an array of file paths, like extends = [\"base.toml\"], found {found}"
        ),
    }
}

fn take_string(
    table: &mut Table,
    key: &str,
    file: &str,
    origin: Option<Origin>,
) -> Result<Option<String>, ScenarioError> {
    match table.remove(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(ScenarioError::Invalid(vec![FieldError {
            path: key.to_string(),
            reason: format!("expected a string, found {}", other.type_str()),
            origin: origin.or(Some(Origin {
                file: file.to_string(),
                line: 1,
            })),
        }])),
    }
}

/// Deep merge: tables merge key by key, anything else (and a table with a `kind` key) replaces.
pub(crate) fn merge_tables(base: &mut Table, over: Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(Value::Table(b)), Value::Table(o)) if !o.contains_key("kind") => {
                merge_tables(b, o)
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Every leaf of `table` (a table with a `kind` key counts as a leaf) as `(dotted path, value)`.
fn leaf_paths(prefix: &str, table: &Table, out: &mut Vec<(String, Value)>) {
    for (k, v) in table {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            Value::Table(t) if !t.contains_key("kind") => leaf_paths(&path, t, out),
            other => out.push((path, other.clone())),
        }
    }
}

/// Sets a dotted path in `table`, creating tables (a non-table in the way is replaced).
fn set_path(table: &mut Table, path: &str, value: Value) {
    let keys: Vec<&str> = path.split('.').collect();
    let (leaf, parents) = keys.split_last().expect("non-empty path");
    let mut t = table;
    for key in parents {
        let entry = t
            .entry(key.to_string())
            .or_insert_with(|| Value::Table(Table::new()));
        if !entry.is_table() {
            *entry = Value::Table(Table::new());
        }
        t = entry.as_table_mut().expect("made a table");
    }
    t.insert(leaf.to_string(), value);
}

/// The line of every key path written in `text` (tables and leaves alike).
fn origins_of(file: &str, text: &str) -> BTreeMap<String, Origin> {
    let mut out = BTreeMap::new();
    if let Ok(doc) = toml::de::DeTable::parse(text) {
        // The offset of every newline, once: a key's line is a binary search, not a count from
        // the start of the file (which made loading quadratic in the number of keys).
        let newlines: Vec<usize> = text
            .bytes()
            .enumerate()
            .filter(|&(_, b)| b == b'\n')
            .map(|(i, _)| i)
            .collect();
        walk(file, &newlines, "", doc.get_ref(), &mut out);
    }
    out
}

fn walk(
    file: &str,
    newlines: &[usize],
    prefix: &str,
    table: &toml::de::DeTable<'_>,
    out: &mut BTreeMap<String, Origin>,
) {
    for (key, value) in table {
        let path = if prefix.is_empty() {
            key.get_ref().to_string()
        } else {
            format!("{prefix}.{}", key.get_ref())
        };
        let start = key.span().start;
        let line = newlines.partition_point(|&nl| nl < start) + 1;
        out.insert(
            path.clone(),
            Origin {
                file: file.to_string(),
                line,
            },
        );
        if let toml::de::DeValue::Table(t) = value.get_ref() {
            walk(file, newlines, &path, t, out);
        }
    }
}

impl Source {
    /// Where the field at `path` (or its nearest written ancestor) was set.
    pub fn origin(&self, path: &str) -> Option<Origin> {
        let clean: String = {
            // `a.samples[2]` -> `a.samples`
            let mut s = String::with_capacity(path.len());
            let mut depth = 0;
            for c in path.chars() {
                match c {
                    '[' => depth += 1,
                    ']' => depth -= 1,
                    _ if depth == 0 => s.push(c),
                    _ => {}
                }
            }
            s
        };
        let mut p = clean.as_str();
        loop {
            if let Some(o) = self.origins.get(p) {
                return Some(o.clone());
            }
            match p.rfind('.') {
                Some(i) => p = &p[..i],
                None => return None,
            }
        }
    }

    /// Sets the value at a dotted path, creating tables on the way (a sweep point). Whether
    /// the path names a real field is checked when the source is deserialized.
    pub fn set(&mut self, path: &str, value: Value) -> Result<(), ScenarioError> {
        let bad = |reason: String| {
            ScenarioError::Invalid(vec![FieldError {
                path: path.to_string(),
                reason,
                origin: None,
            }])
        };
        let keys: Vec<&str> = path.split('.').collect();
        if keys.iter().any(|k| k.is_empty()) {
            return Err(bad("not a dotted field path like lifecycle.prestop".into()));
        }
        let (leaf, parents) = keys.split_last().expect("split yields at least one key");
        let mut table = &mut self.table;
        for (i, key) in parents.iter().enumerate() {
            let entry = table
                .entry(key.to_string())
                .or_insert_with(|| Value::Table(Table::new()));
            table = match entry {
                Value::Table(t) => t,
                other => {
                    return Err(bad(format!(
                        "{} is a {}, not a table",
                        keys[..=i].join("."),
                        other.type_str()
                    )));
                }
            };
        }
        table.insert(leaf.to_string(), value);
        let prefix = format!("{path}.");
        self.origins.retain(|k, _| !k.starts_with(&prefix));
        self.origins.insert(
            path.to_string(),
            Origin {
                file: "--vary".into(),
                line: 0,
            },
        );
        Ok(())
    }

    /// The value at a dotted path, if written in the files (defaults are not visible here).
    pub fn get(&self, path: &str) -> Option<&Value> {
        let mut keys = path.split('.');
        let mut v = self.table.get(keys.next()?)?;
        for k in keys {
            v = v.as_table()?.get(k)?;
        }
        Some(v)
    }

    /// Deserializes the merged tables into `T`, naming the field path (and file and line) of
    /// the first field that does not fit.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, ScenarioError> {
        let value = Value::Table(self.resolved()?);
        serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let path = if path == "." { String::new() } else { path };
            let reason = e.inner().message().trim().to_string();
            ScenarioError::Invalid(vec![FieldError {
                origin: self.origin(&path),
                path,
                reason,
            }])
        })
    }

    /// The merged tables with the lever patches applied: `[levers]` names patches
    /// (`scenarios/files/levers/<name>.toml`), each a table of the settings the lever stands
    /// for. A patch overrides what the files below the one that switched it on set (that is
    /// what a patch is for: `after` = `before` + patches); a setting written in that file, or in
    /// a file above it, that a patch sets to another value is an error naming both. Values set
    /// by a sweep (`--vary`) win over patches.
    pub fn resolved(&self) -> Result<Table, ScenarioError> {
        let mut table = self.table.clone();
        // `[patch.<lever>]`: a file may restate what a lever sets (a cluster's own values,
        // e.g. `[patch.drain.drain] timeout = "8s"`); it replaces the shipped patch whole.
        let overrides = match table.remove("patch") {
            None => Table::new(),
            Some(Value::Table(t)) => t,
            Some(other) => {
                return Err(self.field_errors([(
                    "patch".to_string(),
                    format!(
                        "expected a table of lever patches, found {}",
                        other.type_str()
                    ),
                )]));
            }
        };
        let mut errors = Vec::new();
        for (name, v) in &overrides {
            if shipped::lever_patch(name).is_none() {
                errors.push((
                    format!("patch.{name}"),
                    format!(
                        "no lever named {name:?} (levers: {})",
                        measure::Lever::ALL.map(|l| l.name()).join(", ")
                    ),
                ));
            } else if !v.is_table() {
                errors.push((
                    format!("patch.{name}"),
                    format!("expected a table of settings, found {}", v.type_str()),
                ));
            }
        }
        let Some(levers) = table.remove("levers") else {
            self.drop_none_sections(&mut table, &mut errors);
            return if errors.is_empty() {
                Ok(table)
            } else {
                Err(self.field_errors(errors))
            };
        };
        let levers = match levers {
            Value::Table(t) => t,
            other => {
                return Err(self.field_errors([(
                    "levers".to_string(),
                    format!(
                        "expected a table of lever = true/false, found {}",
                        other.type_str()
                    ),
                )]));
            }
        };
        let mut on = Vec::new();
        for (name, v) in &levers {
            let path = format!("levers.{name}");
            match (shipped::lever_patch(name), v) {
                (None, _) => errors.push((
                    path,
                    format!(
                        "no lever named {name:?} (levers: {})",
                        measure::Lever::ALL.map(|l| l.name()).join(", ")
                    ),
                )),
                (Some(_), Value::Boolean(b)) => {
                    if *b {
                        on.push(name.clone());
                    }
                }
                (Some(_), other) => errors.push((
                    path,
                    format!("expected true or false, found {}", other.type_str()),
                )),
            }
        }
        // Patches apply in DESIGN order (they set disjoint fields, so order only fixes messages).
        on.sort_by_key(|n| measure::Lever::ALL.iter().position(|l| l.name() == n));
        let rank = |file: &str| self.files.iter().position(|f| f == file);
        for name in on {
            let patch: Table = match overrides.get(&name) {
                Some(Value::Table(t)) => t.clone(),
                _ => toml::from_str(shipped::lever_patch(&name).expect("checked above"))
                    .expect("shipped patches parse"),
            };
            let switched_in = self.origin(&format!("levers.{name}")).map(|o| o.file);
            let from = switched_in.as_deref().and_then(rank);
            let mut leaves = Vec::new();
            leaf_paths("", &patch, &mut leaves);
            for (path, value) in leaves {
                // The setting as written: the path itself, or a scalar written at a parent
                // (`prestop = "2s"` against a patch's `prestop.sleep`).
                let written =
                    std::iter::successors(Some(path.as_str()), |p| p.rfind('.').map(|i| &p[..i]))
                        .find(|p| self.get(p).is_some_and(|v| !v.is_table()))
                        .unwrap_or(&path)
                        .to_string();
                let origin = self.origins.get(&written);
                if origin.is_some_and(|o| o.file == "--vary") {
                    continue; // the sweep point wins
                }
                let explicit_above = match (origin.and_then(|o| rank(&o.file)), from) {
                    (Some(set), Some(lever)) => set >= lever,
                    (Some(_), None) => false, // the lever came from --vary: it overrides files
                    (None, _) => false,
                };
                if explicit_above
                    && let Some(current) = self.get(&written)
                    && (written != path || current != &value)
                {
                    let o = origin.expect("explicit");
                    errors.push((
                        written.clone(),
                        format!(
                            "lever {name} (levers/{name}.toml) sets {path} = {value}, but {}:{} sets {written} = {current}; remove one of them",
                            o.file, o.line
                        ),
                    ));
                    continue;
                }
                set_path(&mut table, &path, value);
            }
        }
        self.drop_none_sections(&mut table, &mut errors);
        if errors.is_empty() {
            Ok(table)
        } else {
            Err(self.field_errors(errors))
        }
    }

    /// The optional sections a file can remove again with `kind = "none"` (a layer below set
    /// them, and `extends` cannot unset a table): `queue = { kind = "none" }` is a fleet
    /// without a job queue, `nodes = { kind = "none" }` one without node CPU. The section goes
    /// with whatever lever patches put into it (without a queue, the requeue lever's queue
    /// settings have nothing to act on); a setting a file writes beside `kind = "none"` is an
    /// error, and so is any other `kind`.
    fn drop_none_sections(&self, table: &mut Table, errors: &mut Vec<(String, String)>) {
        for &section in OPTIONAL_SECTIONS {
            let Some(Value::Table(t)) = table.get(section) else {
                continue;
            };
            match t.get("kind") {
                None => continue,
                Some(Value::String(k)) if k == "none" => {}
                Some(other) => {
                    errors.push((
                        format!("{section}.kind"),
                        format!(
                            "{other} is not a kind of [{section}]: kind = \"none\" removes the section, and it has no other"
                        ),
                    ));
                    continue;
                }
            }
            // Settings below the file that says `kind = "none"` are what it removes; one written
            // in that file or a file above it would act on nothing.
            let rank = |file: &str| self.files.iter().position(|f| f == file);
            let none_at = self
                .origins
                .get(&format!("{section}.kind"))
                .and_then(|o| rank(&o.file));
            for key in t.keys().filter(|k| *k != "kind") {
                let path = format!("{section}.{key}");
                let written_at = self.origins.get(&path).and_then(|o| rank(&o.file));
                if matches!((written_at, none_at), (Some(w), Some(n)) if w >= n) {
                    errors.push((
                        path,
                        format!(
                            "[{section}] has kind = \"none\" (no {section}), so this setting would act on nothing; remove one of them"
                        ),
                    ));
                }
            }
            table.remove(section);
        }
    }

    /// Attaches origins to validation errors given as `(path, reason)`.
    pub fn field_errors(
        &self,
        errors: impl IntoIterator<Item = (String, String)>,
    ) -> ScenarioError {
        ScenarioError::Invalid(
            errors
                .into_iter()
                .map(|(path, reason)| FieldError {
                    origin: self.origin(&path),
                    path,
                    reason,
                })
                .collect(),
        )
    }

    /// The path of the top file, for messages.
    pub fn top_file(&self) -> Option<&str> {
        self.files.last().map(String::as_str)
    }
}

/// The folder of the shipped scenario files in this source tree (for tests and docs).
pub fn shipped_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("files")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Cfg {
        #[serde(default)]
        a: A,
        #[serde(default)]
        b: Option<Value>,
    }
    #[derive(Debug, Deserialize, PartialEq, Default)]
    #[serde(deny_unknown_fields)]
    struct A {
        #[serde(default)]
        x: u32,
        #[serde(default)]
        y: Option<String>,
    }

    fn write(dir: &Path, name: &str, text: &str) -> String {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_string_lossy().into_owned()
    }

    #[test]
    fn extends_merges_in_order_and_later_wins() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "base.toml", "[a]\nx = 1\ny = \"base\"\n");
        write(d.path(), "cal.toml", "[a]\nx = 2\n");
        let top = write(
            d.path(),
            "top.toml",
            "name = \"t\"\nextends = [\"base.toml\", \"cal.toml\"]\n[a]\ny = \"top\"\n",
        );
        let s = load_file(Path::new(&top)).unwrap();
        assert_eq!(s.name, "t");
        assert_eq!(s.files.len(), 3);
        let c: Cfg = s.deserialize().unwrap();
        assert_eq!(c.a.x, 2);
        assert_eq!(c.a.y.as_deref(), Some("top"));
        assert_eq!(
            s.origin("a.x").unwrap().file,
            d.path().join("cal.toml").to_string_lossy()
        );
        assert_eq!(s.origin("a.y").unwrap().line, 4);
    }

    #[test]
    fn a_table_with_kind_replaces_instead_of_merging() {
        let mut base: Table =
            toml::from_str("d = { kind = \"uniform\", low = \"1s\", high = \"2s\" }").unwrap();
        let over: Table = toml::from_str("d = { kind = \"constant\", value = \"1s\" }").unwrap();
        merge_tables(&mut base, over);
        assert_eq!(base["d"].as_table().unwrap().len(), 2);
    }

    #[test]
    fn unknown_fields_and_bad_types_name_path_file_and_line() {
        let e = parse_str("x.toml", "[a]\nx = 1\nz = 3\n")
            .unwrap()
            .deserialize::<Cfg>()
            .unwrap_err();
        let f = &e.fields()[0];
        assert_eq!(f.path, "a.z");
        assert!(f.reason.contains("unknown field `z`"), "{f}");
        assert_eq!(f.origin.as_ref().unwrap().line, 3);

        let e = parse_str("x.toml", "[a]\nx = \"many\"\n")
            .unwrap()
            .deserialize::<Cfg>()
            .unwrap_err();
        assert_eq!(
            e.to_string().lines().next().unwrap().split(": ").nth(1),
            Some("a.x"),
            "{e}"
        );
    }

    #[test]
    fn syntax_errors_give_file_and_line() {
        let e = parse_str("bad.toml", "[a]\nx = = 1\n").unwrap_err();
        match e {
            ScenarioError::Syntax { file, line, .. } => {
                assert_eq!(file, "bad.toml");
                assert_eq!(line, 2);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn extends_cycles_and_missing_files_are_named() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "a.toml", "extends = [\"b.toml\"]\n");
        write(d.path(), "b.toml", "extends = [\"a.toml\"]\n");
        let e = load_file(&d.path().join("a.toml")).unwrap_err();
        assert!(e.to_string().contains("cycle"), "{e}");
        let e = parse_str("x.toml", "extends = [\"nope.toml\"]").unwrap_err();
        assert!(e.to_string().contains("nope.toml"), "{e}");
        let e = parse_str("x.toml", "extends = \"base.toml\"").unwrap_err();
        assert!(e.to_string().contains("expected an array"), "{e}");
        let e = parse_str("x.toml", "name = 3").unwrap_err();
        assert_eq!(e.fields()[0].path, "name");
    }

    #[test]
    fn set_creates_tables_and_refuses_to_descend_into_scalars() {
        let mut s = parse_str("x.toml", "[a]\nx = 1\n").unwrap();
        s.set("a.y", Value::String("v".into())).unwrap();
        s.set("b.c", Value::Integer(1)).unwrap();
        assert_eq!(s.get("b.c"), Some(&Value::Integer(1)));
        assert!(s.set("a.x.q", Value::Integer(1)).is_err());
        assert!(s.set("a..q", Value::Integer(1)).is_err());
    }
}
