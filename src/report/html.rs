//! The report as one HTML file: no script, no external style, font or image (a Content
//! Security Policy of `default-src 'none'` says so to the browser too), every text that came
//! from another process, a rule or a log escaped.

use super::markup::esc;
use super::{AskedPort, Report};
use std::fmt::Write as _;

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}\
code,pre{font-family:monospace;background:#f4f4f4}svg{width:100%;max-width:1000px;height:auto}\
.all{fill:#eee}.ephemeral{fill:#9ec5fe}.nodeport{fill:#c29ffa}.reserved{fill:#2e7d32}\
.occupied{fill:#d32f2f}.held{fill:#90caf9}.record{fill:#1565c0}.kind-refused{fill:#d32f2f}\
.kind-gone{fill:#757575}.blocked,.partly{color:#b71c1c}.open{color:#2e7d32}\
text{font-size:11px;fill:#555}";

fn port_section(out: &mut String, p: &AskedPort) {
    let w = &p.why;
    let s = |k: &str| w.get(k).and_then(|v| v.as_str()).unwrap_or("");
    let _ = write!(
        out,
        r#"<section class="port" id="port-{}-{}"><h2>Port {}/{}</h2><p class="why-verdict">bind: <b>{}</b></p><p class="explanation">{}</p>"#,
        p.port,
        p.proto,
        p.port,
        p.proto,
        esc(s("verdict")),
        esc(s("explanation"))
    );
    let list = |key: &str, field: &str| -> Vec<String> {
        w.get(key)
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
            .filter_map(|c| c.get(field).and_then(|t| t.as_str()).map(esc))
            .collect()
    };
    let causes = list("causes", "summary");
    if !causes.is_empty() {
        let _ = write!(
            out,
            r#"<h3>In the way</h3><ul class="causes"><li>{}</li></ul>"#,
            causes.join("</li><li>")
        );
    }
    let plan: Vec<String> = w
        .get("plan")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .map(|r| {
            let t = r.get("text").and_then(|t| t.as_str()).unwrap_or("");
            let c = r.get("command").and_then(|t| t.as_str()).unwrap_or("");
            format!("{}<br><code>{}</code>", esc(t), esc(c))
        })
        .collect();
    if !plan.is_empty() {
        let _ = write!(
            out,
            r#"<h3>Plan</h3><ol class="plan"><li>{}</li></ol>"#,
            plan.join("</li><li>")
        );
    }
    if let Some(r) = &p.reachability {
        let _ = write!(
            out,
            r#"<h3>Reachability</h3><p class="reachability {v}" data-verdict="{v}">{}</p><ul class="rules">"#,
            esc(&r.sentences().first().cloned().unwrap_or_default()),
            v = r.verdict.as_str()
        );
        for rule in &r.rules {
            let _ = write!(out, "<li><code>{}</code></li>", esc(&rule.describe()));
        }
        for n in &r.notes {
            let _ = write!(out, r#"<li class="note">{}</li>"#, esc(n));
        }
        out.push_str("</ul>");
    }
    if !p.timeline.is_empty() {
        let _ = write!(
            out,
            "<h3>Timeline</h3>{}",
            super::svg::timeline(&p.timeline)
        );
        out.push_str(r#"<ol class="records">"#);
        for r in &p.timeline {
            let _ = write!(
                out,
                r#"<li class="record-row" data-kind="{}"><time>{}</time> {}</li>"#,
                esc(&r.kind),
                esc(&r.at.to_string()),
                esc(&r.text)
            );
        }
        out.push_str("</ol>");
    }
    out.push_str("</section>");
}

/// The whole document.
pub fn render(r: &Report) -> String {
    let mut out = format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'"><title>portscope report: {h}</title><style>{STYLE}</style></head><body><h1>Ports of <span id="host">{h}</span></h1><p>At <time id="generated">{}</time>, network namespace {}. Written by portscope {}.</p>"#,
        esc(&r.generated_at.to_string()),
        esc(&r.netns),
        env!("CARGO_PKG_VERSION"),
        h = esc(&r.host),
    );
    out.push_str(r#"<h2>Listeners</h2><table id="listeners"><tr><th>proto</th><th>address</th><th>port</th><th>holder</th><th>unit</th><th>container</th></tr>"#);
    for l in &r.listeners {
        let holders: Vec<String> = l
            .owners
            .iter()
            .map(|o| format!("{} (pid {}, {})", o.comm, o.pid, o.user))
            .collect();
        let units: Vec<&str> = l.owners.iter().filter_map(|o| o.unit.as_deref()).collect();
        let containers: Vec<&str> = l
            .owners
            .iter()
            .filter_map(|o| o.container.as_deref())
            .collect();
        let _ = write!(
            out,
            r#"<tr class="listener" data-port="{}"><td>{}</td><td>{}</td><td>{}</td><td class="holder">{}</td><td>{}</td><td>{}</td></tr>"#,
            l.port,
            l.proto,
            esc(&l.addr),
            l.port,
            esc(&holders.join(", ")),
            esc(&units.join(", ")),
            esc(&containers.join(", "))
        );
    }
    out.push_str("</table><h2>Port map</h2>");
    out.push_str(&super::svg::port_map(&r.port_map));
    let m = &r.port_map;
    let _ = write!(
        out,
        "<p>Ephemeral range {}-{} (blue), NodePort range {}-{} (violet), reserved <code>{}</code> (green), listeners (red).</p>",
        m.ephemeral.0,
        m.ephemeral.1,
        m.nodeport.0,
        m.nodeport.1,
        esc(if m.reserved.is_empty() {
            "none"
        } else {
            &m.reserved
        })
    );
    for p in &r.ports {
        port_section(&mut out, p);
    }
    out.push_str(r#"<h2>Reserved ports and the host</h2><table id="host-checks">"#);
    for h in &r.host_checks {
        let _ = write!(
            out,
            "<tr><th>{}</th><td>{}</td><td>{}</td></tr>",
            esc(&h.check),
            h.status.label(),
            esc(&h.text)
        );
    }
    out.push_str("</table>");
    if let Some(h) = &r.history {
        let _ = write!(
            out,
            "<p>History: {} ({} records{}).</p>",
            esc(&h.file),
            h.records,
            if h.damaged > 0 {
                format!(", {} damaged lines skipped", h.damaged)
            } else {
                String::new()
            }
        );
    }
    // Raw data for tools: JSON, with the characters that could end the element escaped.
    let json = serde_json::to_string(r)
        .unwrap_or_default()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    let _ = write!(
        out,
        r#"<h2>Raw data</h2><p>The whole report as JSON (as <code>portscope report --format json</code> prints it) is in this file, in the element <code>script#portscope-data</code>.</p><script type="application/json" id="portscope-data">{json}</script></body></html>"#
    );
    out.push('\n');
    out
}
