//! The report as text for a terminal, JSON (`fleetsim.check/1`, documented in
//! docs/check.md), SARIF 2.1.0 (one result per finding, located at the manifest field) and
//! JUnit XML (one test case per Deployment, failed when over budget).

use std::fmt::Write as _;

use serde_json::json;

use crate::findings::RULES;
use crate::model::Interval;
use crate::{DeploymentReport, Report};

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Text for a terminal.
    Human,
    /// `fleetsim.check/1` JSON.
    Json,
    /// SARIF 2.1.0.
    Sarif,
    /// JUnit XML.
    Junit,
}

/// Renders the report.
pub fn render(r: &Report, format: Format) -> String {
    match format {
        Format::Human => human(r),
        Format::Json => serde_json::to_string_pretty(r).expect("the report serializes") + "\n",
        Format::Sarif => serde_json::to_string_pretty(&sarif(r)).expect("SARIF serializes") + "\n",
        Format::Junit => junit(r),
    }
}

fn iv(i: &Interval) -> String {
    format!("{:.1} [{:.0}, {:.0}]", i.mean, i.lo, i.hi)
}

fn human(r: &Report) -> String {
    let mut o = String::new();
    for d in &r.deployments {
        let p = &d.predicted;
        let _ = writeln!(
            o,
            "{} ({}:{}) {}: {} replicas, {}",
            d.deployment,
            d.location.file,
            d.location.line,
            if d.within_budget {
                "WITHIN BUDGET"
            } else {
                "OVER BUDGET"
            },
            d.replicas,
            d.balancer.preset.name()
        );
        let _ = writeln!(
            o,
            "  predicted failed requests per rollout: {} (mean [95% interval] over {} seeds; budget {})",
            iv(&p.failed),
            r.seeds.len(),
            r.budget
        );
        if !p.by_class.is_empty() {
            let classes: Vec<String> = p
                .by_class
                .iter()
                .map(|(k, v)| format!("{k} {}", iv(v)))
                .collect();
            let _ = writeln!(o, "    by class: {}", classes.join(", "));
        }
        if !p.by_mechanism.is_empty() {
            let m: Vec<String> = p
                .by_mechanism
                .iter()
                .map(|(k, v)| format!("{k} {v:.1}"))
                .collect();
            let _ = writeln!(o, "    by mechanism (mean): {}", m.join(", "));
        }
        if let Some(w) = &p.window_p99_ms {
            let _ = writeln!(
                o,
                "  p99 in the deploy window: {:.0} ms [{:.0}, {:.0}]",
                w.mean, w.lo, w.hi
            );
        }
        if let Some(c) = &p.capacity_dip {
            let _ = writeln!(
                o,
                "  capacity dip (fewest ready / desired): {:.2} [{:.2}, {:.2}]",
                c.mean, c.lo, c.hi
            );
        }
        if let Some(st) = &p.streams {
            let _ = writeln!(
                o,
                "  streams ({} held): cut {}, asked to leave {}, failed reconnects {}, never back {}",
                st.streams,
                iv(&st.cut),
                iv(&st.asked_to_leave),
                iv(&st.failed_reconnects),
                iv(&st.never_back)
            );
        }
        let _ = writeln!(o, "  balancer: {}", d.balancer.because);
        let _ = writeln!(o, "  replicas: {}", d.replicas_from);
        for n in &d.notes {
            let _ = writeln!(o, "  note: {n}");
        }
        for f in &d.findings {
            let _ = writeln!(
                o,
                "  {} {} ({}:{} {}): {}",
                f.id, f.name, f.location.file, f.location.line, f.location.field, f.inequality
            );
            let _ = writeln!(o, "      {}", f.effect);
        }
        match &d.fix {
            Some(fx) => {
                let _ = writeln!(
                    o,
                    "  smallest fix within budget (predicted failed {}; {} candidates simulated):",
                    iv(&fx.predicted.failed),
                    fx.candidates_tried
                );
                if let Some(app) = &fx.requires_app_change {
                    let _ = writeln!(o, "    (together with {app})");
                }
                for line in fx.patch.lines() {
                    let _ = writeln!(o, "    {line}");
                }
            }
            None if d.fix_searched => {
                let _ = writeln!(
                    o,
                    "  no manifest change among the candidates meets the budget: the application's own shutdown (app.on_sigterm, keep_serving) or the budget must change"
                );
            }
            None => {}
        }
        o.push('\n');
    }
    if !r.not_serving.is_empty() {
        let _ = writeln!(
            o,
            "not serving (no Service selects them; not simulated): {}",
            r.not_serving.join(", ")
        );
    }
    for s in &r.skipped {
        let _ = writeln!(
            o,
            "skipped {}/{} ({}:{}): kind not read",
            s.kind, s.name, s.file, s.line
        );
    }
    for n in &r.notes {
        let _ = writeln!(o, "note: {n}");
    }
    let _ = writeln!(o, "assumed (what the manifests cannot say):");
    for a in &r.assumed {
        let _ = writeln!(o, "  - {a}");
    }
    for f in r.fixed_files.iter().chain(&r.prediction_files) {
        let _ = writeln!(o, "wrote {}", f.display());
    }
    o
}

fn sarif(r: &Report) -> serde_json::Value {
    let rules: Vec<_> = RULES
        .iter()
        .map(|(id, name, text)| {
            json!({
                "id": id,
                "name": name,
                "shortDescription": {"text": text},
                "helpUri": "https://example.invalid/fleetsim/docs/check.md#findings",
            })
        })
        .collect();
    let mut results = Vec::new();
    for d in &r.deployments {
        for f in &d.findings {
            let idx = RULES.iter().position(|x| x.0 == f.id).unwrap_or(0);
            results.push(json!({
                "ruleId": f.id,
                "ruleIndex": idx,
                "level": if d.within_budget { "warning" } else { "error" },
                "message": {"text": format!(
                    "{}: {}. {} Predicted failed requests per rollout: {:.1} [{:.0}, {:.0}] (budget {}).",
                    d.deployment, f.inequality, f.effect, d.predicted.failed.mean, d.predicted.failed.lo, d.predicted.failed.hi, r.budget
                )},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": f.location.file},
                        "region": {"startLine": f.location.line.max(1)}
                    },
                    "logicalLocations": [{"fullyQualifiedName": format!("{}:{}", d.deployment, f.location.field)}]
                }],
                "properties": {"settings": f.settings, "deployment": d.deployment},
            }));
        }
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "fleetsim check",
                "informationUri": "https://example.invalid/fleetsim",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules
            }},
            "results": results
        }]
    })
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn junit(r: &Report) -> String {
    let failures = r.deployments.iter().filter(|d| !d.within_budget).count();
    let mut o = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        o,
        "<testsuite name=\"fleetsim check\" tests=\"{}\" failures=\"{failures}\" errors=\"0\">",
        r.deployments.len()
    );
    for d in &r.deployments {
        let _ = write!(
            o,
            "  <testcase classname=\"{}\" name=\"{}\" file=\"{}\" line=\"{}\"",
            xml(&d.location.file),
            xml(&d.deployment),
            xml(&d.location.file),
            d.location.line
        );
        if d.within_budget {
            o.push_str("/>\n");
        } else {
            let _ = writeln!(
                o,
                ">\n    <failure message=\"{}\">{}</failure>\n  </testcase>",
                xml(&summary_line(d, r.budget)),
                xml(&details(d))
            );
        }
    }
    o.push_str("</testsuite>\n");
    o
}

fn summary_line(d: &DeploymentReport, budget: f64) -> String {
    format!(
        "predicted failed requests per rollout {:.1} [{:.0}, {:.0}] over budget {budget}",
        d.predicted.failed.mean, d.predicted.failed.lo, d.predicted.failed.hi
    )
}

fn details(d: &DeploymentReport) -> String {
    let mut o = String::new();
    for f in &d.findings {
        let _ = writeln!(
            o,
            "{} {} {}:{}: {}",
            f.id, f.name, f.location.file, f.location.line, f.inequality
        );
    }
    if let Some(fx) = &d.fix {
        let _ = writeln!(o, "smallest fix:\n{}", fx.patch);
    }
    o
}
