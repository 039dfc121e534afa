//! ACL records and the auth packet.

use crate::jute::jute_record;
use crate::proto::data::Stat;

jute_record! {
    /// An identity: scheme and id (`world:anyone`, `digest:user:hash`, `ip:10.0.0.0/8`).
    pub struct Id { pub scheme: String, pub id: String }
}
jute_record! {
    /// A permission set granted to an identity.
    pub struct Acl { pub perms: i32, pub id: Id }
}
jute_record! {
    /// setACL (op 7); version is the expected aversion.
    pub struct SetAclRequest { pub path: String, pub acl: Vec<Acl>, pub version: i32 }
}
jute_record! {
    /// getACL reply.
    pub struct GetAclResponse { pub acl: Vec<Acl>, pub stat: Stat }
}
jute_record! {
    /// auth (op 100, xid -4).
    pub struct AuthPacket { pub r#type: i32, pub scheme: String, pub auth: Option<Vec<u8>> }
}
jute_record! {
    /// One identity of the caller, as whoAmI reports it.
    pub struct ClientInfo { pub auth_scheme: String, pub user: String }
}
jute_record! {
    /// whoAmI reply.
    pub struct WhoAmIResponse { pub client_info: Vec<ClientInfo> }
}

impl Acl {
    /// world:anyone with the given perms.
    pub fn world(perms: i32) -> Acl {
        Acl {
            perms,
            id: Id {
                scheme: "world".into(),
                id: "anyone".into(),
            },
        }
    }
}
