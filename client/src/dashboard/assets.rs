//! The page, embedded in the binary: its HTML, script and styles (`client/assets/dashboard/`)
//! and uPlot, the charting library, vendored with its licence (`client/assets/uplot/`). The
//! live page loads them from `/assets/`; the static replay of a finished run inlines them
//! into one file, with the run's recording as JSON.

use std::sync::LazyLock;

use super::model::Recording;

/// The page's HTML, with markers for styles, scripts and title.
const PAGE: &str = include_str!("../../assets/dashboard/page.html");
/// The page's script.
const SCRIPT: &str = include_str!("../../assets/dashboard/dashboard.js");
/// The page's styles.
const STYLE: &str = include_str!("../../assets/dashboard/dashboard.css");
/// uPlot (MIT licence), the IIFE build.
const UPLOT_JS: &str = include_str!("../../assets/uplot/uPlot.iife.min.js");
/// uPlot's styles.
const UPLOT_CSS: &str = include_str!("../../assets/uplot/uPlot.min.css");
/// uPlot's licence.
const UPLOT_LICENSE: &str = include_str!("../../assets/uplot/LICENSE");

/// An asset by its name under `/assets/`: (content type, body).
pub fn file(name: &str) -> Option<(&'static str, &'static str)> {
    Some(match name {
        "dashboard.js" => ("text/javascript; charset=utf-8", SCRIPT),
        "dashboard.css" => ("text/css; charset=utf-8", STYLE),
        "uPlot.iife.min.js" => ("text/javascript; charset=utf-8", UPLOT_JS),
        "uPlot.min.css" => ("text/css; charset=utf-8", UPLOT_CSS),
        "uPlot-LICENSE.txt" => ("text/plain; charset=utf-8", UPLOT_LICENSE),
        _ => return None,
    })
}

fn page(title: &str, styles: &str, scripts: &str) -> String {
    PAGE.replace("<!--title-->", title)
        .replace("<!--styles-->", styles)
        .replace("<!--scripts-->", scripts)
}

/// The live page (its assets from `/assets/`).
pub fn live_page() -> &'static str {
    static LIVE: LazyLock<String> = LazyLock::new(|| {
        page(
            "Meridian — live dashboard",
            r#"<link rel="stylesheet" href="/assets/uPlot.min.css"><link rel="stylesheet" href="/assets/dashboard.css">"#,
            r#"<script src="/assets/uPlot.iife.min.js"></script><script src="/assets/dashboard.js"></script>"#,
        )
    });
    &LIVE
}

/// JSON that can sit inside a `<script>` element: `<`, `>` and `&` as `\u` escapes (they can
/// only occur inside strings, where the escapes mean the same).
fn script_safe_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value)
        .unwrap_or_else(|_| "null".to_owned())
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The static replay of a finished run: one self-contained file (no network), the same
/// views as the live page, drawn from `recording`, with a slider over the updates.
pub fn replay_page(recording: &Recording, title: &str) -> String {
    let styles = format!("<style>{UPLOT_CSS}</style><style>{STYLE}</style>");
    let scripts = format!(
        r#"<script type="application/json" id="replay-data">{}</script><script>{UPLOT_JS}</script><script>{SCRIPT}</script>"#,
        script_safe_json(recording)
    );
    page(&escape_html(title), &styles, &scripts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dashboard::model::{ConflictView, Recording};

    #[test]
    fn inlined_scripts_cannot_close_their_element() {
        for (name, text) in [("uPlot", UPLOT_JS), ("dashboard.js", SCRIPT)] {
            assert!(!text.contains("</script"), "{name} holds </script");
            assert!(!text.contains("<!--"), "{name} holds <!--");
        }
        let rec = Recording {
            conflicts: vec![ConflictView {
                key: "</script><script>alert(1)</script>".into(),
                ..ConflictView::default()
            }],
            ..Recording::default()
        };
        let page = replay_page(&rec, "a <b> run");
        assert_eq!(
            page.matches("</script>").count(),
            3,
            "data, uPlot, dashboard"
        );
        assert!(page.contains("a &lt;b&gt; run"));
        let data = page
            .split(r#"<script type="application/json" id="replay-data">"#)
            .nth(1)
            .and_then(|s| s.split("</script>").next())
            .unwrap();
        let back: Recording = serde_json::from_str(data).unwrap();
        assert_eq!(back, rec, "the escaped JSON reads back the same");
    }

    #[test]
    fn the_live_page_loads_its_assets_from_this_server() {
        let page = live_page();
        for src in [
            "/assets/uPlot.iife.min.js",
            "/assets/dashboard.js",
            "/assets/dashboard.css",
        ] {
            assert!(page.contains(src), "{src}");
            let name = src.trim_start_matches("/assets/");
            assert!(file(name).is_some(), "{name} is served");
        }
        assert!(
            !page.contains("<!--scripts-->")
                && !page.contains("http://")
                && !page.contains("https://")
        );
    }
}
