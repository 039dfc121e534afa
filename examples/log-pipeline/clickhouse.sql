-- The analytics table on every ClickHouse replica; the replicas agree through the
-- ZooKeeper ensemble (Ferrokeeper) named in their config. Window bounds come as ms; the
-- DateTime and the error rate are computed by ClickHouse.
CREATE TABLE IF NOT EXISTS weblog_stats (
    service String,
    window_start UInt64,
    window_end UInt64,
    requests UInt64,
    errors UInt64,
    latency_sum UInt64,
    latency_max UInt64,
    latency_avg Float64,
    window_time DateTime MATERIALIZED toDateTime(intDiv(window_start, 1000)),
    error_rate Float64 ALIAS errors / requests
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/weblog_stats', '{replica}')
PARTITION BY toYYYYMMDD(toDateTime(intDiv(window_start, 1000)))
ORDER BY (service, window_start)
