//! Watch records: notifications and the watch management requests.

use crate::jute::jute_record;

jute_record! {
    /// A notification body (xid -1).
    pub struct WatcherEvent { pub r#type: i32, pub state: i32, pub path: String }
}
jute_record! {
    /// setWatches (op 101) on reconnect.
    pub struct SetWatches {
        pub relative_zxid: i64,
        pub data_watches: Vec<String>,
        pub exist_watches: Vec<String>,
        pub child_watches: Vec<String>,
    }
}
jute_record! {
    /// setWatches2 (op 105): adds the persistent kinds.
    pub struct SetWatches2 {
        pub relative_zxid: i64,
        pub data_watches: Vec<String>,
        pub exist_watches: Vec<String>,
        pub child_watches: Vec<String>,
        pub persistent_watches: Vec<String>,
        pub persistent_recursive_watches: Vec<String>,
    }
}
jute_record! {
    /// addWatch (op 106).
    pub struct AddWatchRequest { pub path: String, pub mode: i32 }
}
jute_record! {
    /// checkWatches (op 17) and removeWatches (op 18).
    pub struct WatchesRequest { pub path: String, pub r#type: i32 }
}
