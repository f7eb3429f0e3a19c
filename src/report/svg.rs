//! The report's pictures as inline SVG: the port map and a timeline per port. Hover text is
//! each mark's SVG `<title>` (shown by every browser, no script needed).

use super::PortMap;
use super::markup::esc;
use super::timeline::Record;
use std::fmt::Write as _;

const W: f64 = 1000.0;

fn x_of(port: u16) -> f64 {
    f64::from(port) * W / 65536.0
}

fn band(out: &mut String, class: &str, lo: u16, hi: u16, y: f64, h: f64, title: &str) {
    let (a, b) = (x_of(lo), x_of(hi) + W / 65536.0);
    let _ = write!(
        out,
        r#"<rect class="{class}" x="{a:.2}" y="{y}" width="{:.2}" height="{h}"><title>{}</title></rect>"#,
        (b - a).max(1.0),
        esc(title)
    );
}

/// The 65536 ports in one strip: ephemeral range, NodePort range, reserved ports, listeners.
pub fn port_map(m: &PortMap) -> String {
    let mut out =
        format!(r#"<svg class="portmap" viewBox="0 0 {W} 110" role="img" aria-label="port map">"#);
    band(&mut out, "all", 0, 65535, 20.0, 40.0, "ports 0-65535");
    let (lo, hi) = m.ephemeral;
    band(
        &mut out,
        "ephemeral",
        lo,
        hi,
        20.0,
        40.0,
        &format!("ephemeral range {lo}-{hi}: connect() takes local ports from here"),
    );
    let (nlo, nhi) = m.nodeport;
    band(
        &mut out,
        "nodeport",
        nlo,
        nhi,
        62.0,
        8.0,
        &format!("Kubernetes NodePort range {nlo}-{nhi}"),
    );
    if let Ok(set) = crate::portset::PortSet::parse(&m.reserved) {
        for &(a, b) in set.ranges() {
            band(
                &mut out,
                "reserved",
                a,
                b,
                14.0,
                6.0,
                &format!("reserved {a}-{b}"),
            );
        }
    }
    for &p in &m.occupied {
        let x = x_of(p);
        let _ = write!(
            out,
            r#"<rect class="occupied" x="{x:.2}" y="16" width="1.5" height="48"><title>port {p}: a listener</title></rect>"#
        );
    }
    for p in [0u16, 1024, 16384, 32768, 49152, 65535] {
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="90">{p}</text>"#,
            x_of(p).min(W - 30.0)
        );
    }
    out.push_str("</svg>");
    out
}

/// One port's records on a time axis: a bar while a socket is held, a mark per record (its
/// record on hover), refused calls on a lane of their own.
pub fn timeline(records: &[Record]) -> String {
    let Some((first, last)) = records.first().zip(records.last()) else {
        return String::new();
    };
    let t0 = first.at.as_millisecond() as f64;
    let span = ((last.at.as_millisecond() as f64) - t0).max(1000.0);
    let x = |r: &Record| 20.0 + (r.at.as_millisecond() as f64 - t0) * (W - 40.0) / span;
    let mut out =
        format!(r#"<svg class="timeline" viewBox="0 0 {W} 90" role="img" aria-label="timeline">"#);
    // Held: from present/appeared to gone, per socket (inode, else address).
    let mut open: Vec<(String, f64, String)> = Vec::new();
    let key = |r: &Record| {
        r.record
            .get("inode")
            .and_then(serde_json::Value::as_u64)
            .filter(|&i| i != 0)
            .map_or_else(
                || {
                    format!(
                        "{}",
                        r.record
                            .get("local_addr")
                            .unwrap_or(&serde_json::Value::Null)
                    )
                },
                |i| i.to_string(),
            )
    };
    for r in records {
        match r.kind.as_str() {
            "present" | "appeared" => open.push((key(r), x(r), r.text.clone())),
            "gone" => {
                let k = key(r);
                if let Some(i) = open.iter().position(|o| o.0 == k) {
                    let (_, a, text) = open.remove(i);
                    let _ = write!(
                        out,
                        r#"<rect class="held" x="{a:.1}" y="22" width="{:.1}" height="10"><title>{}</title></rect>"#,
                        (x(r) - a).max(2.0),
                        esc(&text)
                    );
                }
            }
            _ => {}
        }
    }
    for (_, a, text) in open {
        let _ = write!(
            out,
            r#"<rect class="held" x="{a:.1}" y="22" width="{:.1}" height="10"><title>{} (still held at the last record)</title></rect>"#,
            (W - 20.0 - a).max(2.0),
            esc(&text)
        );
    }
    for r in records {
        let y = if r.kind == "refused" { 55.0 } else { 27.0 };
        let kind: String = r.kind.chars().filter(char::is_ascii_alphanumeric).collect();
        let _ = write!(
            out,
            r#"<circle class="record kind-{kind}" data-kind="{}" cx="{:.1}" cy="{y}" r="5"><title>{} {}&#10;{}</title></circle>"#,
            esc(&r.kind),
            x(r),
            esc(&r.at.to_string()),
            esc(&r.text),
            esc(&r.record.to_string())
        );
    }
    let _ = write!(
        out,
        r#"<text x="20" y="82">{}</text><text x="{:.0}" y="82" text-anchor="end">{}</text><text x="{:.0}" y="59" text-anchor="end">refused</text></svg>"#,
        esc(&first.at.to_string()),
        W - 20.0,
        esc(&last.at.to_string()),
        W - 2.0
    );
    out
}
