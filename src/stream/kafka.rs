//! Kafka as a source and a sink of SQL jobs (`'connector' = 'kafka'`), on `rdkafka` with its
//! bundled librdkafka. Options as Flink names them: `'topic'`, `'properties.*'` handed to
//! librdkafka (`'properties.bootstrap.servers'`; a 0.9 broker needs
//! `'properties.api.version.request' = 'false'` and
//! `'properties.broker.version.fallback' = '0.9.0.1'`), `'format'`, and for the source
//! `'scan.bounded.mode' = 'latest-offset'` (read up to the offsets at start, then end).
//!
//! Source: each partition is a split, its position the next offset to read.
//! Sink, exactly-once without transactions (0.9 has none): a worker's output of an epoch
//! goes to one partition (`worker % partitions`), each message keyed `e<epoch>-w<worker>`.
//! Before producing, the partition's end offset is written next to the staged output; a
//! publication repeated after a crash reads the partition from there, counts the messages
//! with its key that made it, and produces only the rest (the producer neither retries nor
//! reorders, so what made it is a prefix).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientContext, Message, Offset, TopicPartitionList};

use crate::stream::checkpoint::{read_staged, write_synced};
use crate::stream::StreamError;

/// How long a metadata or watermark request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a publication may wait for its messages to be acknowledged.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(60);

/// A topic and the client properties to reach it.
#[derive(Clone, Debug)]
pub(crate) struct KafkaTopic {
    pub(crate) topic: String,
    /// librdkafka properties (`bootstrap.servers`, ...).
    pub(crate) properties: Vec<(String, String)>,
}

fn err(what: &str, e: KafkaError) -> StreamError {
    StreamError::Source(format!("kafka: {what}: {e}"))
}

fn sink_err(what: &str, e: impl std::fmt::Display) -> StreamError {
    StreamError::Sink(format!("kafka: {what}: {e}"))
}

impl KafkaTopic {
    fn config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        for (k, v) in &self.properties {
            c.set(k, v);
        }
        c
    }

    fn consumer(&self) -> Result<BaseConsumer, KafkaError> {
        let mut c = self.config();
        if !self.properties.iter().any(|(k, _)| k == "group.id") {
            // Partitions are assigned, never subscribed: the group only names the client.
            c.set("group.id", "ferrokeeper-stream");
        }
        c.set("enable.auto.commit", "false").create()
    }

    /// The topic's partition count. A topic just created may answer with an error or no
    /// partitions until its leaders are elected: asked again for a while.
    pub(crate) fn partitions(&self) -> Result<usize, StreamError> {
        let consumer = self.consumer().map_err(|e| err("client", e))?;
        let deadline = Instant::now() + REQUEST_TIMEOUT;
        loop {
            let got = consumer
                .fetch_metadata(Some(&self.topic), REQUEST_TIMEOUT)
                .map_err(|e| err(&format!("metadata of {}", self.topic), e))
                .map(|md| {
                    md.topics()
                        .iter()
                        .find(|t| t.name() == self.topic && t.error().is_none())
                        .map_or(0, |t| t.partitions().len())
                });
            match got {
                Ok(n) if n > 0 => return Ok(n),
                _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(200)),
                Ok(_) => {
                    return Err(StreamError::Source(format!(
                        "kafka: topic {} has no partitions (does it exist?)",
                        self.topic
                    )))
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn high_watermark(&self, consumer: &BaseConsumer, partition: i32) -> Result<i64, KafkaError> {
        consumer
            .fetch_watermarks(&self.topic, partition, REQUEST_TIMEOUT)
            .map(|(_, high)| high)
    }
}

/// One partition of a source topic.
pub(crate) struct KafkaSplit {
    consumer: BaseConsumer,
    topic: String,
    partition: i32,
    /// The next offset to read.
    position: u64,
    /// Bounded: the split ends here.
    end: Option<u64>,
}

impl KafkaSplit {
    pub(crate) fn open(
        t: &KafkaTopic,
        partition: usize,
        position: u64,
        bounded: bool,
    ) -> Result<KafkaSplit, StreamError> {
        let partition = partition as i32;
        let consumer = t.consumer().map_err(|e| err("client", e))?;
        let end = if bounded {
            Some(
                t.high_watermark(&consumer, partition)
                    .map_err(|e| err("watermarks", e))? as u64,
            )
        } else {
            None
        };
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&t.topic, partition, Offset::Offset(position as i64))
            .map_err(|e| err("assign", e))?;
        consumer.assign(&tpl).map_err(|e| err("assign", e))?;
        Ok(KafkaSplit {
            consumer,
            topic: t.topic.clone(),
            partition,
            position,
            end,
        })
    }

    pub(crate) fn position(&self) -> u64 {
        self.position
    }

    /// Gives up to `max` message payloads: `Some(n)` (0: nothing yet), `None` at a bounded
    /// split's end.
    pub(crate) fn read(
        &mut self,
        max: usize,
        give: &mut impl FnMut(&str) -> Result<(), StreamError>,
    ) -> Result<Option<usize>, StreamError> {
        let mut n = 0;
        while n < max {
            if self.end.is_some_and(|e| self.position >= e) {
                return Ok(if n == 0 { None } else { Some(n) });
            }
            let Some(m) = self.consumer.poll(Duration::ZERO) else {
                break;
            };
            let m = m.map_err(|e| err(&format!("{}/{}", self.topic, self.partition), e))?;
            let payload = m.payload().unwrap_or_default();
            let text = std::str::from_utf8(payload).map_err(|_| {
                StreamError::Source(format!(
                    "kafka: {}/{} offset {}: not UTF-8",
                    self.topic,
                    self.partition,
                    m.offset()
                ))
            })?;
            give(text.trim_end_matches(['\n', '\r']))?;
            self.position = m.offset() as u64 + 1;
            n += 1;
        }
        Ok(Some(n))
    }
}

/// Delivery reports: the first failure fails the publication.
#[derive(Default)]
struct Reports {
    failed: AtomicBool,
    first: Mutex<Option<String>>,
}

impl ClientContext for Reports {}

impl ProducerContext for Reports {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            self.failed.store(true, Ordering::Release);
            let mut first = self.first.lock().unwrap_or_else(|x| x.into_inner());
            first.get_or_insert_with(|| e.to_string());
        }
    }
}

/// A sink topic.
pub(crate) struct KafkaSink {
    pub(crate) topic: KafkaTopic,
    producer: BaseProducer<Reports>,
    partitions: usize,
}

impl std::fmt::Debug for KafkaSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "KafkaSink({}, {} partitions)",
            self.topic.topic, self.partitions
        )
    }
}

impl KafkaSink {
    pub(crate) fn open(topic: KafkaTopic) -> Result<KafkaSink, StreamError> {
        let partitions = topic.partitions().map_err(|e| sink_err("metadata", e))?;
        let mut c = topic.config();
        // No retries and one request in flight: what reaches the log of a publication is a
        // prefix of it, which the recovery counts.
        c.set("message.send.max.retries", "0")
            .set("max.in.flight.requests.per.connection", "1")
            .set("request.required.acks", "-1");
        let producer = c
            .create_with_context(Reports::default())
            .map_err(|e| sink_err("producer", e))?;
        Ok(KafkaSink {
            topic,
            producer,
            partitions,
        })
    }

    fn partition(&self, worker: usize) -> i32 {
        (worker % self.partitions) as i32
    }

    /// Produces `lines` to `partition` keyed `key`, and waits for every acknowledgement.
    fn produce<'a>(
        &self,
        partition: i32,
        key: &str,
        lines: impl Iterator<Item = &'a [u8]>,
    ) -> Result<(), StreamError> {
        for line in lines {
            let mut record = BaseRecord::to(&self.topic.topic)
                .partition(partition)
                .key(key)
                .payload(line);
            loop {
                match self.producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                        record = r;
                        self.producer.poll(Duration::from_millis(10));
                    }
                    Err((e, _)) => return Err(sink_err("produce", e)),
                }
            }
        }
        self.producer
            .flush(FLUSH_TIMEOUT)
            .map_err(|e| sink_err("flush", e))?;
        let ctx = self.producer.context();
        if ctx.failed.load(Ordering::Acquire) {
            let first = ctx.first.lock().unwrap_or_else(|x| x.into_inner()).clone();
            return Err(sink_err("delivery", first.unwrap_or_default()));
        }
        Ok(())
    }

    /// Without checkpoints: output as it comes (at-least-once).
    pub(crate) fn deliver(&self, worker: usize, out: &[u8]) -> Result<(), StreamError> {
        let key = format!("w{worker}");
        self.produce(self.partition(worker), &key, lines(out))
    }

    /// Publishes a committed epoch's staged output exactly once (see the module's doc).
    pub(crate) fn publish(
        &self,
        epoch: u64,
        worker: usize,
        staged: &Path,
    ) -> Result<(), StreamError> {
        let Some(bytes) = read_staged(staged)? else {
            return Ok(());
        };
        let key = format!("e{epoch}-w{worker}");
        let marker = marker_path(staged);
        let partition = self.partition(worker);
        let done = match std::fs::read_to_string(&marker) {
            Ok(text) => {
                let (p, from) = parse_marker(&text).ok_or_else(|| {
                    StreamError::State(format!("{}: bad marker", marker.display()))
                })?;
                let done = self.count_key(p, from, &key)?;
                // Worth a line: the exactly-once path after a crash mid-publication.
                eprintln!(
                    "kafka sink: epoch {epoch} of worker {worker}: {done} of {} messages were already in {}/{p}",
                    lines(&bytes).count(),
                    self.topic.topic
                );
                done
            }
            Err(_) => {
                let consumer = self.topic.consumer().map_err(|e| sink_err("client", e))?;
                let from = self
                    .topic
                    .high_watermark(&consumer, partition)
                    .map_err(|e| sink_err("watermarks", e))?;
                write_synced(&marker, format!("{partition} {from}\n").as_bytes())?;
                0
            }
        };
        self.produce(partition, &key, lines(&bytes).skip(done))?;
        let _ = std::fs::remove_file(staged);
        let _ = std::fs::remove_file(&marker);
        Ok(())
    }

    /// Messages keyed `key` in `partition` from offset `from` to its end.
    fn count_key(&self, partition: i32, from: i64, key: &str) -> Result<usize, StreamError> {
        let consumer = self.topic.consumer().map_err(|e| sink_err("client", e))?;
        let end = self
            .topic
            .high_watermark(&consumer, partition)
            .map_err(|e| sink_err("watermarks", e))?;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&self.topic.topic, partition, Offset::Offset(from))
            .map_err(|e| sink_err("assign", e))?;
        consumer.assign(&tpl).map_err(|e| sink_err("assign", e))?;
        let (mut at, mut n) = (from, 0);
        let deadline = Instant::now() + FLUSH_TIMEOUT;
        while at < end {
            if Instant::now() > deadline {
                return Err(sink_err(
                    "recount",
                    format!("partition {partition} unread up to {end}"),
                ));
            }
            let Some(m) = consumer.poll(Duration::from_millis(100)) else {
                continue;
            };
            let m = m.map_err(|e| sink_err("recount", e))?;
            if m.key() == Some(key.as_bytes()) {
                n += 1;
            }
            at = m.offset() + 1;
        }
        Ok(n)
    }
}

fn lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty())
}

fn marker_path(staged: &Path) -> PathBuf {
    staged.with_extension("kafka")
}

fn parse_marker(text: &str) -> Option<(i32, i64)> {
    let mut it = text.split_whitespace();
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_skip_empty_and_markers_round_trip() {
        let got: Vec<&[u8]> = lines(b"a,1\nb,2\n\nc,3").collect();
        assert_eq!(got, vec![&b"a,1"[..], b"b,2", b"c,3"]);
        assert_eq!(parse_marker("3 1200\n"), Some((3, 1200)));
        assert_eq!(parse_marker("3"), None);
        assert_eq!(
            marker_path(Path::new("/s/sink/7/w1.pending")),
            Path::new("/s/sink/7/w1.kafka")
        );
    }
}
