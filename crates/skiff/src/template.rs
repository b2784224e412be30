//! `--format` for `inspect`: the part of Go's templates that Docker users
//! write: `{{.State.Status}}`, `{{json .Config}}`, `{{.Id}} {{.Name}}`, and
//! `json` alone for the whole document as JSON.

use anyhow::{bail, Result};
use serde_json::Value;

/// One piece of a parsed template.
#[derive(Debug, PartialEq)]
enum Piece {
    Text(String),
    Field { path: Vec<String>, json: bool },
}

/// A parsed `--format` template.
#[derive(Debug)]
pub struct Template(Vec<Piece>);

impl Template {
    /// Parses `text`; an unclosed action or an unknown function is an error
    /// that names it.
    pub fn parse(text: &str) -> Result<Template> {
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_string()));
            }
            let Some(close) = rest[open..].find("}}") else {
                bail!("invalid --format {text:?}: unclosed {{{{");
            };
            pieces.push(action(text, rest[open + 2..open + close].trim())?);
            rest = &rest[open + close + 2..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_string()));
        }
        Ok(Template(pieces))
    }

    /// The template applied to `doc`; a missing field is `<no value>`, as Go
    /// prints it.
    pub fn render(&self, doc: &Value) -> String {
        let mut out = String::new();
        for piece in &self.0 {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Field { path, json } => {
                    let value = path.iter().try_fold(doc, |v, key| v.get(key));
                    match (value, json) {
                        (None, _) => out.push_str("<no value>"),
                        (Some(v), true) => out.push_str(&v.to_string()),
                        (Some(Value::String(s)), false) => out.push_str(s),
                        (Some(Value::Null), false) => out.push_str("<nil>"),
                        (Some(v), false) => out.push_str(&v.to_string()),
                    }
                }
            }
        }
        out
    }
}

fn action(text: &str, inner: &str) -> Result<Piece> {
    let (json, field) = match inner.split_once(char::is_whitespace) {
        Some(("json", f)) => (true, f.trim()),
        Some((func, _)) => {
            bail!("invalid --format {text:?}: unknown function {func:?} (json is known)")
        }
        None => (false, inner),
    };
    let Some(path) = field.strip_prefix('.') else {
        bail!("invalid --format {text:?}: {field:?} is not a field (.Name, .State.Status)");
    };
    let path = path
        .split('.')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    Ok(Piece::Field { path, json })
}

/// Prints `docs` as `format` says: a JSON array by default or with `json`,
/// else the template once per document.
pub fn print(docs: &[Value], format: Option<&str>) -> Result<()> {
    match format {
        None | Some("json") => println!("{}", serde_json::to_string_pretty(docs)?),
        Some(t) => {
            let template = Template::parse(t)?;
            for doc in docs {
                println!("{}", template.render(doc));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_json_and_text() {
        let doc = json!({"Id": "abc", "State": {"Status": "running", "Pid": 7}, "Config": {"Env": ["A=1"]}});
        let t = Template::parse(
            "{{.Id}} is {{ .State.Status }} ({{.State.Pid}}) {{json .Config.Env}} {{.Nope}}",
        )
        .unwrap();
        assert_eq!(t.render(&doc), "abc is running (7) [\"A=1\"] <no value>");
        assert_eq!(
            Template::parse("{{json .}}")
                .unwrap()
                .render(&json!({"a": 1})),
            "{\"a\":1}"
        );
        for bad in ["{{.Id", "{{upper .Id}}", "{{Id}}"] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
    }
}
