//! zkCli's text formats: Stat lines, Java's `Date.toString`, ACL lines, the command tokenizer.

use zookeeper_client::{Acl, AuthId, Permission, Stat};

/// The Stat block zkCli prints (`cZxid = 0x..` ... `numChildren = N`).
pub fn stat_lines(stat: &Stat) -> String {
    format!(
        "cZxid = 0x{:x}\nctime = {}\nmZxid = 0x{:x}\nmtime = {}\npZxid = 0x{:x}\ncversion = {}\n\
         dataVersion = {}\naclVersion = {}\nephemeralOwner = 0x{:x}\ndataLength = {}\nnumChildren = {}\n",
        stat.czxid,
        java_date(stat.ctime),
        stat.mzxid,
        java_date(stat.mtime),
        stat.pzxid,
        stat.cversion,
        stat.version,
        stat.aversion,
        stat.ephemeral_owner,
        stat.data_length,
        stat.num_children
    )
}

pub use ferrokeeper::server::envinfo::java_date;

/// zkCli's permission string: `cdrwa` order.
pub fn perm_string(p: Permission) -> String {
    let mut s = String::new();
    for (perm, c) in [
        (Permission::CREATE, 'c'),
        (Permission::DELETE, 'd'),
        (Permission::READ, 'r'),
        (Permission::WRITE, 'w'),
        (Permission::ADMIN, 'a'),
    ] {
        if p.has(perm) {
            s.push(c);
        }
    }
    s
}

/// The lines getAcl prints for one ACL entry.
pub fn acl_lines(acl: &Acl) -> String {
    format!(
        "'{},'{}\n: {}\n",
        acl.scheme(),
        acl.id(),
        perm_string(acl.permission())
    )
}

/// Parses zkCli's ACL syntax `scheme:id:perms[,scheme:id:perms...]`. Unknown permission letters
/// are reported (as zkCli does) in `warnings` and ignored.
pub fn parse_acls(text: &str, warnings: &mut Vec<String>) -> Vec<Acl> {
    let mut acls = Vec::new();
    for item in text.split(',') {
        let first = item.find(':');
        let last = item.rfind(':');
        let (Some(first), Some(last)) = (first, last) else {
            warnings.push(format!("{item} does not have the form scheme:id:perm"));
            continue;
        };
        if first == last {
            warnings.push(format!("{item} does not have the form scheme:id:perm"));
            continue;
        }
        let scheme = &item[..first];
        let id = &item[first + 1..last];
        let mut perm = Permission::NONE;
        for c in item[last + 1..].chars() {
            perm = perm
                | match c.to_ascii_lowercase() {
                    'r' => Permission::READ,
                    'w' => Permission::WRITE,
                    'c' => Permission::CREATE,
                    'd' => Permission::DELETE,
                    'a' => Permission::ADMIN,
                    other => {
                        warnings.push(format!("Unknown perm type: {other}"));
                        Permission::NONE
                    }
                };
        }
        acls.push(Acl::new(perm, AuthId::new(scheme, id)));
    }
    acls
}

/// Splits a command line as zkCli does: on whitespace, with `"..."` and `'...'` quoting.
pub fn tokenize(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_token = false;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => cur.push(c),
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                in_token = true;
            }
            None if c.is_whitespace() => {
                if in_token {
                    out.push(std::mem::take(&mut cur));
                    in_token = false;
                }
            }
            None => {
                cur.push(c);
                in_token = true;
            }
        }
    }
    if in_token {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_like_java() {
        assert_eq!(java_date(0), "Thu Jan 01 00:00:00 UTC 1970");
        // 2026-11-25T10:43:14Z
        assert_eq!(java_date(1_795_603_394_000), "Wed Nov 25 10:43:14 UTC 2026");
    }

    #[test]
    fn tokens_and_acls() {
        assert_eq!(tokenize(r#"create /a "a b c""#), ["create", "/a", "a b c"]);
        assert_eq!(tokenize("set /a ''"), ["set", "/a", ""]);
        let mut w = Vec::new();
        let acls = parse_acls("digest:u:h=:cdrwa,world:anyone:xr", &mut w);
        assert_eq!(acls[0].id(), "u:h=");
        assert_eq!(perm_string(acls[1].permission()), "r");
        assert_eq!(w, ["Unknown perm type: x"]);
    }
}
