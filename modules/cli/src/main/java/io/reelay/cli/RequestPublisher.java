package io.reelay.cli;

import io.reelay.protocol.Json;
import io.reelay.protocol.Request;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/** Publishes requests to the requests topic, keyed by session, as any Kafka producer could. */
final class RequestPublisher implements AutoCloseable {

  private final KafkaProducer<String, byte[]> producer;
  private final String topic;
  private final String bootstrap;

  RequestPublisher(String bootstrap, String topic) {
    this.bootstrap = bootstrap;
    this.topic = topic;
    this.producer =
        new KafkaProducer<>(
            Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ProducerConfig.ACKS_CONFIG, "all",
                ProducerConfig.MAX_BLOCK_MS_CONFIG, "15000",
                ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "30000",
                ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000"),
            new StringSerializer(),
            new ByteArraySerializer());
  }

  void publish(Request r) throws InterruptedException {
    try {
      producer.send(new ProducerRecord<>(topic, r.sessionKey(), Json.bytes(r))).get(45, TimeUnit.SECONDS);
    } catch (ExecutionException | TimeoutException | KafkaException e) {
      throw new IllegalStateException(
          "could not publish to Kafka at " + bootstrap + " (is it running? `reelay up` starts one): "
              + (e.getCause() != null ? e.getCause().getMessage() : e.getMessage()), e);
    }
  }

  @Override
  public void close() {
    producer.close(Duration.ofSeconds(5));
  }
}
