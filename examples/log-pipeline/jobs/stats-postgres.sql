-- The §5 job into PostgreSQL. Rendered by run.sh: ${...} are its settings.

-- The web servers' access log as the shipper put it in Kafka, one line a message; the job
-- reads the topic up to the offsets it finds at start ('scan.bounded.mode'), so a run ends.
CREATE TABLE weblogs (
    ts TIMESTAMP(3), service STRING, status BIGINT, latency BIGINT,
    WATERMARK FOR ts AS ts - INTERVAL '2' SECOND
) WITH (
    'connector' = 'kafka',
    'topic' = 'weblogs',
    'properties.bootstrap.servers' = '${BROKERS}',
    'properties.api.version.request' = 'false',
    'properties.broker.version.fallback' = '0.9.0.1',
    'scan.bounded.mode' = 'latest-offset',
    'format' = 'regex',
    'regex' = '^\S+ \S+ \S+ \[([^\]]+)\] "\S+ /([^/ ]+)\S* [^"]*" (\d{3}) \d+ (\d+)$',
    'ignore_parse_errors' = 'true'
);

CREATE TABLE stats (
    service STRING, window_start TIMESTAMP(3), window_end TIMESTAMP(3),
    requests BIGINT, errors BIGINT, latency_sum BIGINT, latency_max BIGINT, latency_avg DOUBLE
) WITH ('connector' = 'jdbc', 'url' = '${POSTGRES_URL}', 'table-name' = 'weblog_stats', 'username' = 'postgres');

-- Per service and 10 s window: requests, server errors, latency (sum, max, mean).
INSERT INTO stats
SELECT service,
       TUMBLE_START(ts, INTERVAL '10' SECOND), TUMBLE_END(ts, INTERVAL '10' SECOND),
       COUNT(*), COUNT(*) FILTER (WHERE status >= 500),
       SUM(latency), MAX(latency), AVG(latency * 1.0)
FROM weblogs
GROUP BY service, TUMBLE(ts, INTERVAL '10' SECOND);
