"""Development and test stack: embedded PostgreSQL and Kafka-protocol broker, the
services and the vendor simulators as separate processes, on one machine."""
