//! JAAS login configuration files, as the JDK's `ConfigFile` reads them for ZooKeeper:
//!
//! ```text
//! // comment              /* comment */
//! Server {
//!     org.apache.zookeeper.server.auth.DigestLoginModule required
//!     user_super="adminsecret"
//!     user_bob="bobsecret";
//! };
//! ```
//!
//! A file is a list of sections `Name { Module Flag key=value ...; ... };`. Values are words
//! or quoted strings (`"..."` or `'...'`, with the backslash escapes of Java's
//! `StreamTokenizer`). Option values expand `${prop}` from the system properties (the `-D`
//! arguments, and the JVM's own `user.home`, `user.name`, `user.dir`, `java.io.tmpdir`;
//! `${/}` is the file separator), as the JDK's `PropertyExpander` does: an unknown property
//! or a value that expands to nothing is an error naming the line.

use std::collections::BTreeMap;
use std::path::Path;

use super::error::ConfigError;

/// One login module line of a section: `Module Flag key=value ...;`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginModule {
    /// The module's class name.
    pub class: String,
    /// `required`, `requisite`, `sufficient` or `optional`.
    pub flag: String,
    /// The options in file order.
    pub options: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    Quoted(String),
    Punct(char),
}

/// Word characters: StreamTokenizer's letters and number characters plus ConfigFile's
/// `$ _ - *`.
fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '$' | '_' | '-' | '*') || c as u32 >= 0xA0
}

/// Splits the text into tokens, each with its 1-based line.
fn tokenize(text: &str) -> Result<Vec<(Tok, usize)>, (usize, String)> {
    let mut out = Vec::new();
    let mut line = 1;
    let mut it = text.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '\n' => line += 1,
            c if c.is_whitespace() => {}
            '/' if it.peek() == Some(&'/') => {
                for c in it.by_ref() {
                    if c == '\n' {
                        line += 1;
                        break;
                    }
                }
            }
            '/' if it.peek() == Some(&'*') => {
                it.next();
                let start = line;
                let mut prev = ' ';
                loop {
                    match it.next() {
                        None => return Err((start, "unterminated comment".into())),
                        Some('/') if prev == '*' => break,
                        Some(c) => {
                            if c == '\n' {
                                line += 1;
                            }
                            prev = c;
                        }
                    }
                }
            }
            '"' | '\'' => {
                let (quote, start) = (c, line);
                let mut s = String::new();
                loop {
                    match it.next() {
                        None | Some('\n') => return Err((start, "unterminated string".into())),
                        Some(c) if c == quote => break,
                        Some('\\') => match it.next() {
                            Some('n') => s.push('\n'),
                            Some('t') => s.push('\t'),
                            Some('r') => s.push('\r'),
                            Some('b') => s.push('\x08'),
                            Some('f') => s.push('\x0c'),
                            Some(c) => s.push(c),
                            None => return Err((start, "unterminated string".into())),
                        },
                        Some(c) => s.push(c),
                    }
                }
                out.push((Tok::Quoted(s), start));
            }
            c if is_word(c) => {
                let mut s = String::from(c);
                while let Some(&n) = it.peek() {
                    if !is_word(n) {
                        break;
                    }
                    s.push(n);
                    it.next();
                }
                out.push((Tok::Word(s), line));
            }
            c => out.push((Tok::Punct(c), line)),
        }
    }
    Ok(out)
}

/// Parses a whole file into its sections (name -> modules), `path` naming it in errors,
/// `${prop}` in option values taken from `props` (the system properties).
pub fn parse(
    text: &str,
    path: &Path,
    props: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, Vec<LoginModule>>, ConfigError> {
    let syntax = |(line, message): (usize, String)| ConfigError::Syntax {
        path: path.to_path_buf(),
        line,
        message,
    };
    let toks = tokenize(text).map_err(syntax)?;
    let last_line = toks.last().map_or(1, |t| t.1);
    let mut p = Parser {
        toks: &toks,
        pos: 0,
        last_line,
        props,
    };
    let mut sections = BTreeMap::new();
    while p.pos < toks.len() {
        let (name, line) = p.word("section name").map_err(syntax)?;
        p.punct('{').map_err(syntax)?;
        let mut modules = Vec::new();
        while !p.at('}') {
            modules.push(p.module().map_err(syntax)?);
        }
        p.punct('}').map_err(syntax)?;
        p.punct(';').map_err(syntax)?;
        if sections.insert(name.clone(), modules).is_some() {
            return Err(syntax((
                line,
                format!("Can not specify multiple entries for {name}"),
            )));
        }
    }
    Ok(sections)
}

struct Parser<'a> {
    toks: &'a [(Tok, usize)],
    pos: usize,
    last_line: usize,
    props: &'a BTreeMap<String, String>,
}

/// A system property as the JVM would have it: given with `-D`, else one of its own.
fn property(props: &BTreeMap<String, String>, name: &str) -> Option<String> {
    if let Some(v) = props.get(name) {
        return Some(v.clone());
    }
    match name {
        "/" | "file.separator" => Some("/".into()),
        "user.home" => std::env::var("HOME").ok(),
        "user.name" => std::env::var("USER").ok(),
        "user.dir" => std::env::current_dir()
            .ok()
            .map(|d| d.display().to_string()),
        "java.io.tmpdir" => Some("/tmp".into()),
        _ => None,
    }
}

/// `${prop}` expansion (the JDK's `PropertyExpander`): `${}` stays, a `${` without its
/// `}` is kept as text, an unknown property is an error.
fn expand(value: &str, props: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        let Some(len) = rest[at..].find('}') else {
            out.push_str(&rest[at..]);
            return Ok(out);
        };
        let name = &rest[at + 2..at + len];
        if name.is_empty() {
            out.push_str("${}");
        } else {
            out.push_str(
                &property(props, name)
                    .ok_or_else(|| format!("unable to expand property {name}"))?,
            );
        }
        rest = &rest[at + len + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

type Step<T> = Result<T, (usize, String)>;

impl Parser<'_> {
    fn line(&self) -> usize {
        self.toks.get(self.pos).map_or(self.last_line, |t| t.1)
    }

    fn at(&self, c: char) -> bool {
        matches!(self.toks.get(self.pos), Some((Tok::Punct(p), _)) if *p == c)
    }

    fn expected<T>(&self, what: &str) -> Step<T> {
        let found = match self.toks.get(self.pos) {
            None => "end of file".to_string(),
            Some((Tok::Word(w), _)) => format!("'{w}'"),
            Some((Tok::Quoted(q), _)) => format!("\"{q}\""),
            Some((Tok::Punct(c), _)) => format!("'{c}'"),
        };
        Err((self.line(), format!("expected [{what}], found {found}")))
    }

    fn word(&mut self, what: &str) -> Step<(String, usize)> {
        match self.toks.get(self.pos) {
            Some((Tok::Word(w), line)) => {
                self.pos += 1;
                Ok((w.clone(), *line))
            }
            _ => self.expected(what),
        }
    }

    fn punct(&mut self, c: char) -> Step<()> {
        if self.at(c) {
            self.pos += 1;
            Ok(())
        } else {
            self.expected(&c.to_string())
        }
    }

    fn module(&mut self) -> Step<LoginModule> {
        let (class, _) = self.word("login module class")?;
        let (flag, _) = self.word("controlFlag")?;
        let flag = flag.to_ascii_lowercase();
        if !matches!(
            flag.as_str(),
            "required" | "requisite" | "sufficient" | "optional"
        ) {
            self.pos -= 1;
            return self.expected("controlFlag");
        }
        let mut options = Vec::new();
        while !self.at(';') {
            let (key, _) = self.word("option key")?;
            self.punct('=')?;
            let (value, line) = match self.toks.get(self.pos) {
                Some((Tok::Word(v) | Tok::Quoted(v), line)) => (v.clone(), *line),
                _ => return self.expected("option value"),
            };
            self.pos += 1;
            let value = if value.is_empty() {
                value
            } else {
                let expanded = expand(&value, self.props).map_err(|m| (line, m))?;
                if expanded.is_empty() {
                    return Err((
                        line,
                        format!("system property [{value}] expanded to empty value"),
                    ));
                }
                expanded
            };
            options.push((key, value));
        }
        self.punct(';')?;
        Ok(LoginModule {
            class,
            flag,
            options,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> BTreeMap<String, Vec<LoginModule>> {
        parse(text, Path::new("jaas.conf"), &BTreeMap::new()).expect("parses")
    }

    #[test]
    fn option_values_expand_system_properties() {
        let props = BTreeMap::from([
            ("zk.keytab".to_string(), "/etc/zk.keytab".to_string()),
            ("empty".to_string(), String::new()),
        ]);
        let text = "Server { m.K required keyTab=\"${zk.keytab}\" p=\"a${/}b${}c${x\" tmp=\"${java.io.tmpdir}\"; };";
        let s = parse(text, Path::new("j"), &props).expect("parses");
        assert_eq!(
            s["Server"][0].options,
            vec![
                ("keyTab".to_string(), "/etc/zk.keytab".to_string()),
                ("p".to_string(), "a/b${}c${x".to_string()),
                ("tmp".to_string(), "/tmp".to_string()),
            ]
        );
        let unknown = parse(
            "S {\n m.K required\n k=\"${nope}\"; };",
            Path::new("j"),
            &props,
        );
        match unknown {
            Err(ConfigError::Syntax { line, message, .. }) => {
                assert_eq!(line, 3);
                assert_eq!(message, "unable to expand property nope");
            }
            other => panic!("{other:?}"),
        }
        assert!(parse(
            "S { m.K required k=\"${empty}\"; };",
            Path::new("j"),
            &props
        )
        .is_err());
    }

    #[test]
    fn zookeeper_server_section_with_comments_and_quotes() {
        let s = parse_ok(
            "// the server\n/* block\n comment */ Server {\n  org.apache.zookeeper.server.auth.DigestLoginModule Required\n  user_super=\"admin\\\"secret\"\n  user_bob='bob pw'\n  user_eve=plain;\n};\nClient { a.B optional username=\"bob\"; };\n",
        );
        let server = &s["Server"];
        assert_eq!(server.len(), 1);
        assert_eq!(
            server[0].class,
            "org.apache.zookeeper.server.auth.DigestLoginModule"
        );
        assert_eq!(server[0].flag, "required");
        assert_eq!(
            server[0].options,
            vec![
                ("user_super".to_string(), "admin\"secret".to_string()),
                ("user_bob".to_string(), "bob pw".to_string()),
                ("user_eve".to_string(), "plain".to_string()),
            ]
        );
        assert_eq!(s["Client"][0].options[0].1, "bob");
    }

    #[test]
    fn errors_name_the_line() {
        for (text, line) in [
            ("Server {\n a.B required\n user_x=\"y\"\n};\n", 4),
            ("Server {\n a.B maybe x=\"y\";\n};\n", 2),
            ("Server {\n a.B required x=\"y;\n};\n", 2),
            ("Server { a.B required; };\nServer { a.B required; };\n", 2),
            ("/* never closed", 1),
        ] {
            match parse(text, Path::new("j"), &BTreeMap::new()) {
                Err(ConfigError::Syntax { line: l, .. }) => assert_eq!(l, line, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }
}
