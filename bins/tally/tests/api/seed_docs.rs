//! Reading the seed documents (`docs/seeds/`, copies of `../shared/seeds/`): every example
//! request — `curl` commands, JavaScript `fetch(…)` calls, Python `requests.get(…)` calls and
//! ```` ```http ```` blocks — with the example response that goes with it, and a check that a
//! real response has the example's shape, field by field, JSON types included.
//!
//! A request's example response is the first JSON value after a line mentioning "Response"
//! (not "Failure Response") between it and the next request; a request without one (Billix
//! and lyrcs show their response once, before the calls) goes with the nearest one before it.

use serde_json::Value;

/// Where the copies of the seed documents live.
pub fn doc_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/seeds")
}

/// The text of a seed document (`000` … `004`).
pub fn doc(prefix: &str) -> String {
    let dir = doc_dir();
    let name = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with(prefix))
        .unwrap_or_else(|| panic!("no seed document {prefix}_* in {}", dir.display()));
    std::fs::read_to_string(dir.join(name)).unwrap()
}

/// One example request as written in a document.
#[derive(Debug, Clone)]
pub struct Example {
    /// Line of the document it starts on (1-based), for messages.
    pub line: usize,
    /// `curl`, `fetch`, `python` or `http`.
    pub form: &'static str,
    /// HTTP method.
    pub method: String,
    /// URL or path, as written.
    pub url: String,
    /// Headers, as written (placeholders included).
    pub headers: Vec<(String, String)>,
    /// Body text (JSON), as written.
    pub body: Option<String>,
    /// Its example response, and whether the document puts it right after the request.
    pub response: Option<(Value, bool)>,
}

/// The examples of one document and its failure-response examples.
#[derive(Debug)]
pub struct Parsed {
    pub examples: Vec<Example>,
    /// `(line, body)` of every "Failure Response" example.
    pub failures: Vec<(usize, Value)>,
}

fn line_of(text: &str, pos: usize) -> usize {
    text[..pos].matches('\n').count() + 1
}

/// Every example of `text`.
pub fn parse(text: &str) -> Parsed {
    let mut sites: Vec<(usize, Example)> = Vec::new();
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim_start();
        let at = pos + (line.len() - t.len());
        if t.starts_with("curl ") {
            sites.push((at, curl(text, at)));
        } else if t.starts_with("```http") {
            sites.push((at, http_block(text, at)));
        }
        pos += line.len();
    }
    for (needle, form) in [("fetch(", "fetch"), ("requests.get(", "python")] {
        let mut from = 0;
        while let Some(i) = text[from..].find(needle) {
            let at = from + i;
            sites.push((at, call(text, at + needle.len(), form)));
            from = at + needle.len();
        }
    }
    sites.sort_by_key(|(at, _)| *at);
    let (responses, failures) = responses(text);
    let mut examples = Vec::new();
    for (i, (at, mut ex)) in sites.iter().cloned().enumerate() {
        ex.line = line_of(text, at);
        let next = sites.get(i + 1).map_or(text.len(), |(n, _)| *n);
        let own = responses.iter().find(|(r, _)| *r > at && *r < next);
        let before = responses.iter().rev().find(|(r, _)| *r < at);
        ex.response = own
            .map(|(_, v)| (v.clone(), true))
            .or_else(|| before.map(|(_, v)| (v.clone(), false)));
        examples.push(ex);
    }
    Parsed {
        examples,
        failures: failures
            .into_iter()
            .map(|(at, v)| (line_of(text, at), v))
            .collect(),
    }
}

/// `(position, value)` of every success and every failure example response.
type Found = Vec<(usize, Value)>;

fn responses(text: &str) -> (Found, Found) {
    let (mut ok, mut failed) = (Vec::new(), Vec::new());
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        pos += line.len();
        if !line.contains("Response") {
            continue;
        }
        let rest = &text[pos..];
        let mut start = pos + (rest.len() - rest.trim_start().len());
        if text[start..].starts_with("```") {
            let eol = text[start..]
                .find('\n')
                .map_or(text.len(), |n| start + n + 1);
            let rest = &text[eol..];
            start = eol + (rest.len() - rest.trim_start().len());
        }
        if let Some(v) = json_at(text, start) {
            if line.contains("Failure") {
                failed.push((start, v));
            } else {
                ok.push((start, v));
            }
        }
    }
    (ok, failed)
}

/// The JSON object or array starting exactly at `start`, if there is one.
fn json_at(text: &str, start: usize) -> Option<Value> {
    let first = text[start..].chars().next()?;
    if first != '{' && first != '[' {
        return None;
    }
    let (mut depth, mut in_str, mut escaped) = (0i32, false, false);
    for (i, c) in text[start..].char_indices() {
        if in_str {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '{' | '[' => depth += 1,
            '}' | ']' => {
                depth -= 1;
                if depth == 0 {
                    let end = start + i + c.len_utf8();
                    return serde_json::from_str(&text[start..end]).ok();
                }
            }
            _ => {}
        }
    }
    None
}

/// A `curl` command line (with `\` continuations and quoted multi-line arguments).
fn curl(text: &str, at: usize) -> Example {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut chars = text[at..].chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => quote = Some(c),
            (None, '\\') if chars.peek() == Some(&'\n') => {
                chars.next();
            }
            (None, '\n') => break,
            (None, c) if c.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            (None, c) => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    let mut ex = Example {
        line: 0,
        form: "curl",
        method: String::new(),
        url: String::new(),
        headers: Vec::new(),
        body: None,
        response: None,
    };
    let mut it = words.into_iter().skip(1);
    while let Some(w) = it.next() {
        match w.as_str() {
            "-X" | "--request" => ex.method = it.next().unwrap_or_default(),
            "-H" | "--header" => {
                let h = it.next().unwrap_or_default();
                let (k, v) = h.split_once(':').unwrap();
                ex.headers.push((k.trim().to_owned(), v.trim().to_owned()));
            }
            "-d" | "--data" | "--data-raw" => ex.body = it.next(),
            _ if ex.url.is_empty() && !w.starts_with('-') => ex.url = w,
            _ => {}
        }
    }
    if ex.method.is_empty() {
        ex.method = if ex.body.is_some() { "POST" } else { "GET" }.to_owned();
    }
    ex
}

/// A ```` ```http ```` block: request line, headers, and the JSON body block right after it
/// (before any response).
fn http_block(text: &str, at: usize) -> Example {
    let open_end = at + text[at..].find('\n').unwrap() + 1;
    let close = open_end + text[open_end..].find("```").unwrap();
    let mut lines = text[open_end..close]
        .lines()
        .filter(|l| !l.trim().is_empty());
    let (method, path) = lines.next().unwrap().trim().split_once(' ').unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let after = close + 3;
    let rest = &text[after..];
    let next = after + (rest.len() - rest.trim_start().len());
    let body = text[next..].starts_with("```json").then(|| {
        let start = next + text[next..].find('\n').unwrap() + 1;
        let end = start + text[start..].find("```").unwrap();
        text[start..end].to_owned()
    });
    Example {
        line: 0,
        form: "http",
        method: method.to_owned(),
        url: path.trim().to_owned(),
        headers,
        body,
        response: None,
    }
}

/// A `fetch(url, {method, headers, body})` or `requests.get(url, headers={…})` call whose
/// arguments start at `at`.
fn call(text: &str, at: usize, form: &'static str) -> Example {
    let chars: Vec<char> = text[at..].chars().collect();
    let mut p = Js { s: &chars, i: 0 };
    let url = p.value();
    let mut opts = serde_json::Map::new();
    loop {
        p.ws();
        if !p.eat(',') {
            break;
        }
        p.ws();
        if p.peek() == Some(')') {
            break;
        }
        let save = p.i;
        let name = p.ident();
        p.ws();
        if !name.is_empty() && p.eat('=') {
            // A Python keyword argument.
            opts.insert(name, p.value());
        } else {
            p.i = save;
            if let Value::Object(o) = p.value() {
                opts.extend(o);
            }
        }
    }
    let text_of = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
    let headers = opts
        .get("headers")
        .and_then(Value::as_object)
        .map(|h| h.iter().map(|(k, v)| (k.clone(), text_of(v))).collect())
        .unwrap_or_default();
    Example {
        line: 0,
        form,
        method: opts
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or("GET")
            .to_owned(),
        url: text_of(&url),
        headers,
        body: opts.get("body").map(Value::to_string),
        response: None,
    }
}

/// Just enough of a JavaScript (and Python) literal reader for the documents' calls: objects,
/// arrays, strings (`'…'`, `"…"`, `` `…` ``, `f"…"`), numbers, `true`/`false`/`null`,
/// `JSON.stringify(x)` (= `x`), `a + b` (concatenated), and any other expression, which is
/// kept as the placeholder text `${expr}`.
struct Js<'a> {
    s: &'a [char],
    i: usize,
}

impl Js<'_> {
    fn peek(&self) -> Option<char> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.i += 1;
        }
    }

    fn ident(&mut self) -> String {
        let start = self.i;
        while self
            .peek()
            .is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | '$' | '.'))
        {
            self.i += 1;
        }
        self.s[start..self.i].iter().collect()
    }

    fn string(&mut self, q: char) -> String {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            self.i += 1;
            match c {
                '\\' => {
                    if let Some(n) = self.peek() {
                        self.i += 1;
                        out.push(n);
                    }
                }
                c if c == q => break,
                c => out.push(c),
            }
        }
        out
    }

    fn value(&mut self) -> Value {
        let mut v = self.primary();
        loop {
            self.ws();
            if !self.eat('+') {
                return v;
            }
            self.ws();
            let w = self.primary();
            let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            v = Value::String(text(&v) + &text(&w));
        }
    }

    fn primary(&mut self) -> Value {
        self.ws();
        match self.peek() {
            Some('{') => {
                self.i += 1;
                let mut m = serde_json::Map::new();
                loop {
                    self.ws();
                    if self.eat('}') {
                        return Value::Object(m);
                    }
                    let key = match self.peek() {
                        Some(q @ ('"' | '\'')) => {
                            self.i += 1;
                            self.string(q)
                        }
                        _ => self.ident(),
                    };
                    self.ws();
                    assert!(self.eat(':'), "':' expected after {key:?}");
                    let v = self.value();
                    m.insert(key, v);
                    self.ws();
                    self.eat(',');
                }
            }
            Some('[') => {
                self.i += 1;
                let mut a = Vec::new();
                loop {
                    self.ws();
                    if self.eat(']') {
                        return Value::Array(a);
                    }
                    a.push(self.value());
                    self.ws();
                    self.eat(',');
                }
            }
            Some(q @ ('"' | '\'' | '`')) => {
                self.i += 1;
                Value::String(self.string(q))
            }
            Some('f') if matches!(self.s.get(self.i + 1), Some('"' | '\'')) => {
                let q = self.s[self.i + 1];
                self.i += 2;
                Value::String(self.string(q))
            }
            Some(c) if c.is_ascii_digit() || c == '-' => {
                let start = self.i;
                self.i += 1;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E'))
                {
                    self.i += 1;
                }
                let n: String = self.s[start..self.i].iter().collect();
                serde_json::from_str(&n).unwrap()
            }
            _ => {
                let name = self.ident();
                match name.as_str() {
                    "true" | "True" => Value::Bool(true),
                    "false" | "False" => Value::Bool(false),
                    "null" | "None" => Value::Null,
                    "JSON.stringify" => {
                        self.ws();
                        assert!(self.eat('('));
                        let v = self.value();
                        self.ws();
                        assert!(self.eat(')'));
                        v
                    }
                    _ => Value::String(format!("${{{name}}}")),
                }
            }
        }
    }
}

/// Where `got` differs in shape from the document's `example`: a missing field, another JSON
/// type, or an empty array where the example has an element to compare. Arrays are compared
/// by their first elements; fields the document does not show are allowed.
pub fn shape_problems(at: &str, example: &Value, got: &Value) -> Vec<String> {
    let kind = |v: &Value| match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    match (example, got) {
        (Value::Object(want), Value::Object(have)) => want
            .iter()
            .flat_map(|(k, v)| match have.get(k) {
                Some(h) => shape_problems(&format!("{at}.{k}"), v, h),
                None => vec![format!("{at}.{k}: missing")],
            })
            .collect(),
        (Value::Array(want), Value::Array(have)) => match (want.first(), have.first()) {
            (Some(w), Some(h)) => shape_problems(&format!("{at}[0]"), w, h),
            (Some(_), None) => vec![format!("{at}: empty, the example has elements")],
            (None, _) => Vec::new(),
        },
        (w, h) if kind(w) == kind(h) => Vec::new(),
        (w, h) => vec![format!(
            "{at}: {} where the document has {} ({w})",
            kind(h),
            kind(w)
        )],
    }
}

#[test]
fn the_reader_finds_every_example_of_every_document() {
    let count = |prefix: &str, form: &str| {
        parse(&doc(prefix))
            .examples
            .iter()
            .filter(|e| e.form == form)
            .count()
    };
    assert_eq!(count("000", "http"), 4);
    assert_eq!((count("001", "curl"), count("001", "fetch")), (6, 1));
    assert_eq!(count("002", "curl"), 3);
    let lyrcs = (
        count("003", "curl"),
        count("003", "fetch"),
        count("003", "python"),
    );
    assert_eq!(lyrcs, (1, 1, 1));
    assert_eq!(count("004", "fetch"), 2);
    assert_eq!(parse(&doc("004")).failures.len(), 2);
    let billix = parse(&doc("001"));
    let post = &billix.examples[1];
    assert_eq!((post.form, post.method.as_str()), ("fetch", "POST"));
    assert_eq!(
        post.headers[0],
        ("Authorization".into(), "Bearer ${token}".into())
    );
    let body: Value = serde_json::from_str(post.body.as_deref().unwrap()).unwrap();
    assert_eq!(body["cost_usd"], 0.0043);
    assert!(post
        .response
        .as_ref()
        .is_some_and(|(r, own)| !own && r["usage_id"] == "uuid"));
}

#[test]
fn shapes_compare_types_field_by_field() {
    let doc = serde_json::json!({"a": 1, "b": [{"c": "x"}], "d": {"e": true}});
    let same = serde_json::json!({"a": 2.5, "b": [{"c": "y", "z": 1}], "d": {"e": false}, "f": 0});
    assert!(shape_problems("$", &doc, &same).is_empty());
    let off = serde_json::json!({"a": "1", "b": [], "d": {}});
    assert_eq!(
        shape_problems("$", &doc, &off),
        vec![
            "$.a: string where the document has number (1)",
            "$.b: empty, the example has elements",
            "$.d.e: missing",
        ]
    );
}
