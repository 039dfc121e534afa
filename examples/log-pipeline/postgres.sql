-- The PostgreSQL table the job's jdbc sink copies into; the error rate is computed here.
CREATE TABLE IF NOT EXISTS weblog_stats (
    service text NOT NULL,
    window_start timestamp(3) NOT NULL,
    window_end timestamp(3) NOT NULL,
    requests bigint NOT NULL,
    errors bigint NOT NULL,
    latency_sum bigint NOT NULL,
    latency_max bigint NOT NULL,
    latency_avg double precision NOT NULL,
    error_rate double precision GENERATED ALWAYS AS (errors::double precision / requests) STORED,
    PRIMARY KEY (service, window_start)
);
