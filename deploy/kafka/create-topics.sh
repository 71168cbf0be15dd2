#!/bin/sh
# Create the platform's topics (and their dead-letter topics) before the services start.
#
# The services would create missing topics themselves (haulbridge_runtime.kafka.ensure_topics),
# but only with replication factor 1 and default configs; in production create them here,
# with the replication and retention you want. Safe to run again (--if-not-exists); an
# existing topic is left as it is (its partition count is printed, never changed).
#
# Environment:
#   KAFKA_BOOTSTRAP_SERVERS   broker(s)                                  (default kafka:9092)
#   TOPIC_PREFIX              same value as the services' *_TOPIC_PREFIX  (default empty)
#   TOPIC_PARTITIONS          partitions per topic; choose once, see deploy/README.md (default 3)
#   TOPIC_REPLICATION_FACTOR  1 on a single broker, 3 on a cluster      (default 1)
#   TOPIC_MIN_INSYNC_REPLICAS 1 on a single broker, 2 on a cluster      (default 1)
#   TOPIC_RETENTION_MS        retention of booking.v1, hauler.v1, notify.v1 (default 7 days)
#   DLQ_RETENTION_MS          retention of the .dlq topics               (default 30 days)
#   KAFKA_COMMAND_CONFIG      optional client properties file (TLS/SASL for a managed cluster)
#   KAFKA_BIN                 where kafka-topics.sh lives                (default /opt/kafka/bin)
set -eu

BOOTSTRAP="${KAFKA_BOOTSTRAP_SERVERS:-kafka:9092}"
PREFIX="${TOPIC_PREFIX:-}"
PARTITIONS="${TOPIC_PARTITIONS:-3}"
RF="${TOPIC_REPLICATION_FACTOR:-1}"
MIN_ISR="${TOPIC_MIN_INSYNC_REPLICAS:-1}"
RETENTION_MS="${TOPIC_RETENTION_MS:-604800000}"
DLQ_RETENTION_MS="${DLQ_RETENTION_MS:-2592000000}"
BIN="${KAFKA_BIN:-/opt/kafka/bin}"

# The topic names of haulbridge_runtime/topics.py (ALL_TOPICS) and their dlq() topics.
TOPICS="booking.v1 hauler.v1 notify.v1"

topics_cmd() {
  if [ -n "${KAFKA_COMMAND_CONFIG:-}" ]; then
    "$BIN/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" --command-config "$KAFKA_COMMAND_CONFIG" "$@"
  else
    "$BIN/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" "$@"
  fi
}

create() {
  name="$1"; retention="$2"
  topics_cmd --create --if-not-exists --topic "$name" \
    --partitions "$PARTITIONS" --replication-factor "$RF" \
    --config "min.insync.replicas=$MIN_ISR" \
    --config "retention.ms=$retention" \
    --config "cleanup.policy=delete"
}

for t in $TOPICS; do
  create "${PREFIX}${t}" "$RETENTION_MS"
  create "${PREFIX}${t}.dlq" "$DLQ_RETENTION_MS"
done

echo "topics on $BOOTSTRAP:"
for t in $TOPICS; do
  topics_cmd --describe --topic "${PREFIX}${t}" | head -n 1
  topics_cmd --describe --topic "${PREFIX}${t}.dlq" | head -n 1
done
