//! Stat and the records of the node operations (create, delete, exists, get/set data, children).

use crate::jute::jute_record;
use crate::proto::acl::Acl;

jute_record! {
    /// The client-visible node metadata (68 bytes).
    pub struct Stat {
        pub czxid: i64,
        pub mzxid: i64,
        pub ctime: i64,
        pub mtime: i64,
        pub version: i32,
        pub cversion: i32,
        pub aversion: i32,
        pub ephemeral_owner: i64,
        pub data_length: i32,
        pub num_children: i32,
        pub pzxid: i64,
    }
}

jute_record! {
    /// The node metadata as stored in snapshots (60 bytes); cversion counts creates only.
    pub struct StatPersisted {
        pub czxid: i64,
        pub mzxid: i64,
        pub ctime: i64,
        pub mtime: i64,
        pub version: i32,
        pub cversion: i32,
        pub aversion: i32,
        pub ephemeral_owner: i64,
        pub pzxid: i64,
    }
}

jute_record! {
    /// create, create2 and createContainer (op 1, 15, 19).
    pub struct CreateRequest { pub path: String, pub data: Option<Vec<u8>>, pub acl: Vec<Acl>, pub flags: i32 }
}
jute_record! {
    /// createTTL (op 21).
    pub struct CreateTtlRequest { pub path: String, pub data: Option<Vec<u8>>, pub acl: Vec<Acl>, pub flags: i32, pub ttl: i64 }
}
jute_record! {
    /// delete (op 2).
    pub struct DeleteRequest { pub path: String, pub version: i32 }
}
jute_record! {
    /// exists, getData, getChildren, getChildren2 (same layout).
    pub struct PathWatchRequest { pub path: String, pub watch: bool }
}
jute_record! {
    /// setData (op 5).
    pub struct SetDataRequest { pub path: String, pub data: Option<Vec<u8>>, pub version: i32 }
}
jute_record! {
    /// check (op 13), inside multi.
    pub struct CheckVersionRequest { pub path: String, pub version: i32 }
}
jute_record! {
    /// getACL, sync, getAllChildrenNumber, getEphemerals (a single path).
    pub struct PathRequest { pub path: String }
}
jute_record! {
    /// reconfig (op 16).
    pub struct ReconfigRequest { pub joining_servers: String, pub leaving_servers: String, pub new_members: String, pub cur_config_id: i64 }
}
jute_record! {
    /// create reply; also sync's reply (a path).
    pub struct CreateResponse { pub path: String }
}
jute_record! {
    /// create2, createContainer and createTTL reply.
    pub struct Create2Response { pub path: String, pub stat: Stat }
}
jute_record! {
    /// exists, setData and setACL reply.
    pub struct StatResponse { pub stat: Stat }
}
jute_record! {
    /// getData reply (also reconfig's).
    pub struct GetDataResponse { pub data: Option<Vec<u8>>, pub stat: Stat }
}
jute_record! {
    /// getChildren reply; getEphemerals reply (full paths).
    pub struct GetChildrenResponse { pub children: Vec<String> }
}
jute_record! {
    /// getChildren2 reply.
    pub struct GetChildren2Response { pub children: Vec<String>, pub stat: Stat }
}
jute_record! {
    /// getAllChildrenNumber reply.
    pub struct GetAllChildrenNumberResponse { pub total_number: i32 }
}
jute_record! {
    /// The 4-byte body addWatch replies with; also a multi error result body.
    pub struct ErrorResponse { pub err: i32 }
}
jute_record! {
    /// sasl (op 102) request and reply token.
    pub struct SaslRecord { pub token: Option<Vec<u8>> }
}
