//! Path rules (PathUtils.validatePath) and parent/child splitting.

/// Splits `/a/b` into (`/a`, `b`); the parent of `/a` is `/`.
pub fn parent_and_name(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(0) => ("/", &path[1..]),
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    }
}

/// Joins a parent path and a child name.
pub fn join(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

/// ZooKeeper's path validation; the reason is what ZooKeeper would log.
pub fn validate_path(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("Path length must be > 0");
    }
    if !path.starts_with('/') {
        return Err("Path must start with / character");
    }
    if path.len() == 1 {
        return Ok(());
    }
    if path.ends_with('/') {
        return Err("Path must not end with / character");
    }
    // Java checks UTF-16 code units, so characters outside the BMP (surrogates) are invalid.
    let chars: Vec<u16> = path.encode_utf16().collect();
    let (slash, dot) = (u16::from(b'/'), u16::from(b'.'));
    let mut last = slash;
    for i in 1..chars.len() {
        let c = chars[i];
        let at_end = i + 1 == chars.len() || chars[i + 1] == slash;
        if c == 0 {
            return Err("null character not allowed");
        } else if c == slash && last == slash {
            return Err("empty node name specified");
        } else if c == dot && last == dot {
            if chars[i - 2] == slash && at_end {
                return Err("relative paths not allowed");
            }
        } else if c == dot {
            if last == slash && at_end {
                return Err("relative paths not allowed");
            }
        } else if (0x01..=0x1f).contains(&c)
            || (0x7f..=0x9f).contains(&c)
            || (0xd800..=0xf8ff).contains(&c)
            || c >= 0xfff0
        {
            return Err("invalid character");
        }
        last = c;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_and_invalid_paths() {
        for ok in ["/", "/a", "/a/b", "/a.b", "/..a", "/a/.b", "/é"] {
            assert_eq!(validate_path(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "a",
            "/a/",
            "//",
            "/a//b",
            "/a/.",
            "/a/..",
            "/./a",
            "/a\0b",
            "/a\u{1}",
            "/\u{1F600}",
        ] {
            assert!(validate_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn splits_parent() {
        assert_eq!(parent_and_name("/a"), ("/", "a"));
        assert_eq!(parent_and_name("/a/b"), ("/a", "b"));
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
    }
}
