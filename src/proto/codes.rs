//! Opcodes (ZooDefs.OpCode), error codes (KeeperException.Code), create modes, perms, watch types.

/// Request and txn types, as in `ZooDefs.OpCode`.
#[allow(missing_docs)]
pub mod op {
    pub const NOTIFICATION: i32 = 0;
    pub const CREATE: i32 = 1;
    pub const DELETE: i32 = 2;
    pub const EXISTS: i32 = 3;
    pub const GET_DATA: i32 = 4;
    pub const SET_DATA: i32 = 5;
    pub const GET_ACL: i32 = 6;
    pub const SET_ACL: i32 = 7;
    pub const GET_CHILDREN: i32 = 8;
    pub const SYNC: i32 = 9;
    pub const PING: i32 = 11;
    pub const GET_CHILDREN2: i32 = 12;
    pub const CHECK: i32 = 13;
    pub const MULTI: i32 = 14;
    pub const CREATE2: i32 = 15;
    pub const RECONFIG: i32 = 16;
    pub const CHECK_WATCHES: i32 = 17;
    pub const REMOVE_WATCHES: i32 = 18;
    pub const CREATE_CONTAINER: i32 = 19;
    pub const DELETE_CONTAINER: i32 = 20;
    pub const CREATE_TTL: i32 = 21;
    pub const MULTI_READ: i32 = 22;
    pub const AUTH: i32 = 100;
    pub const SET_WATCHES: i32 = 101;
    pub const SASL: i32 = 102;
    pub const GET_EPHEMERALS: i32 = 103;
    pub const GET_ALL_CHILDREN_NUMBER: i32 = 104;
    pub const SET_WATCHES2: i32 = 105;
    pub const ADD_WATCH: i32 = 106;
    pub const WHO_AM_I: i32 = 107;
    pub const CREATE_SESSION: i32 = -10;
    pub const CLOSE_SESSION: i32 = -11;
    pub const ERROR: i32 = -1;
}

/// Special xids of the client protocol.
#[allow(missing_docs)]
pub mod xid {
    pub const NOTIFICATION: i32 = -1;
    pub const PING: i32 = -2;
    pub const AUTH: i32 = -4;
    pub const SET_WATCHES: i32 = -8;
}

/// A KeeperException code as it travels in `ReplyHeader.err`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
#[allow(missing_docs)]
pub enum ErrorCode {
    Ok = 0,
    SystemError = -1,
    RuntimeInconsistency = -2,
    DataInconsistency = -3,
    ConnectionLoss = -4,
    MarshallingError = -5,
    Unimplemented = -6,
    OperationTimeout = -7,
    BadArguments = -8,
    UnknownSession = -12,
    NewConfigNoQuorum = -13,
    ReconfigInProgress = -14,
    ApiError = -100,
    NoNode = -101,
    NoAuth = -102,
    BadVersion = -103,
    NoChildrenForEphemerals = -108,
    NodeExists = -110,
    NotEmpty = -111,
    SessionExpired = -112,
    InvalidCallback = -113,
    InvalidAcl = -114,
    AuthFailed = -115,
    SessionMoved = -118,
    NotReadOnly = -119,
    EphemeralOnLocalSession = -120,
    NoWatcher = -121,
    RequestTimeout = -122,
    ReconfigDisabled = -123,
    SessionClosedRequireSaslAuth = -124,
    QuotaExceeded = -125,
    ThrottledOp = -127,
}

impl ErrorCode {
    /// The wire value.
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// Permission bits of an ACL entry.
#[allow(missing_docs)]
pub mod perms {
    pub const READ: i32 = 1;
    pub const WRITE: i32 = 2;
    pub const CREATE: i32 = 4;
    pub const DELETE: i32 = 8;
    pub const ADMIN: i32 = 16;
    pub const ALL: i32 = 31;
}

/// Watch event types (Watcher.Event.EventType).
#[allow(missing_docs)]
pub mod event {
    pub const NODE_CREATED: i32 = 1;
    pub const NODE_DELETED: i32 = 2;
    pub const NODE_DATA_CHANGED: i32 = 3;
    pub const NODE_CHILDREN_CHANGED: i32 = 4;
    /// KeeperState.SyncConnected, the only state the server sends.
    pub const STATE_SYNC_CONNECTED: i32 = 3;
}

/// WatcherType of checkWatches/removeWatches (3.9 adds the persistent kinds).
#[allow(missing_docs)]
pub mod watcher_type {
    pub const CHILDREN: i32 = 1;
    pub const DATA: i32 = 2;
    pub const ANY: i32 = 3;
    pub const PERSISTENT: i32 = 4;
    pub const PERSISTENT_RECURSIVE: i32 = 5;
}

/// AddWatch modes.
#[allow(missing_docs)]
pub mod add_watch_mode {
    pub const PERSISTENT: i32 = 0;
    pub const PERSISTENT_RECURSIVE: i32 = 1;
}

/// The create mode a request's flags stand for (CreateMode.fromFlag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum CreateMode {
    Persistent,
    Ephemeral,
    PersistentSequential,
    EphemeralSequential,
    Container,
    PersistentWithTtl,
    PersistentSequentialWithTtl,
}

impl CreateMode {
    /// Maps the wire flag; any other value is BADARGUMENTS.
    pub fn from_flag(flag: i32) -> Option<CreateMode> {
        Some(match flag {
            0 => CreateMode::Persistent,
            1 => CreateMode::Ephemeral,
            2 => CreateMode::PersistentSequential,
            3 => CreateMode::EphemeralSequential,
            4 => CreateMode::Container,
            5 => CreateMode::PersistentWithTtl,
            6 => CreateMode::PersistentSequentialWithTtl,
            _ => return None,
        })
    }
    /// Whether a sequence suffix is appended.
    pub fn is_sequential(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentSequential
                | CreateMode::EphemeralSequential
                | CreateMode::PersistentSequentialWithTtl
        )
    }
    /// Whether the node belongs to the creating session.
    pub fn is_ephemeral(self) -> bool {
        matches!(
            self,
            CreateMode::Ephemeral | CreateMode::EphemeralSequential
        )
    }
    /// Whether the node expires after a TTL.
    pub fn is_ttl(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentWithTtl | CreateMode::PersistentSequentialWithTtl
        )
    }
}

/// ephemeralOwner of a container node.
pub const CONTAINER_EPHEMERAL_OWNER: i64 = i64::MIN;
/// Top byte of the ephemeralOwner of a TTL node (extended type 0xFF, feature 0 = TTL).
pub const TTL_OWNER_MASK: i64 = 0xFF00_0000_0000_0000u64 as i64;
/// Largest TTL the 40 low bits can carry.
pub const MAX_TTL_MS: i64 = 0xFF_FFFF_FFFF;

/// What kind of node an ephemeralOwner value marks (EphemeralType).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EphemeralType {
    /// Not ephemeral.
    Void,
    /// Owned by a session.
    Normal,
    /// Deleted once it has had children and has none.
    Container,
    /// Deleted when not modified for the TTL.
    Ttl(i64),
}

impl EphemeralType {
    /// Decodes a stored ephemeralOwner. Extended types only count when they are enabled,
    /// as in ZooKeeper, where a 0xFF.. owner is otherwise an ordinary session id.
    pub fn of(owner: i64, extended_types: bool) -> EphemeralType {
        if owner == 0 {
            EphemeralType::Void
        } else if owner == CONTAINER_EPHEMERAL_OWNER {
            EphemeralType::Container
        } else if extended_types && (owner & TTL_OWNER_MASK) == TTL_OWNER_MASK {
            EphemeralType::Ttl(owner & MAX_TTL_MS)
        } else {
            EphemeralType::Normal
        }
    }
}
