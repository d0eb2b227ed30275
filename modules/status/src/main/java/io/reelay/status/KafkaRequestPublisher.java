package io.reelay.status;

import io.reelay.protocol.Json;
import io.reelay.protocol.Request;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The one shared, idempotent ({@code acks=all}) producer of the status service. {@code send} may
 * block on metadata (e.g. the topic does not exist yet), so it runs on the blocking executor, never
 * on an HTTP thread; the whole call is bounded by the publish timeout.
 */
final class KafkaRequestPublisher implements RequestPublisher {

  private final KafkaProducer<String, byte[]> producer;
  private final String topic;
  private final Duration timeout;
  private final Executor blocking;

  KafkaRequestPublisher(String bootstrapServers, String topic, StatusSettings settings, Executor blocking) {
    Map<String, Object> p = new HashMap<>(settings.producerProperties());
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
    p.put(ProducerConfig.CLIENT_ID_CONFIG, "reelay-status-publisher");
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, Long.toString(settings.publishTimeout().toMillis()));
    this.producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
    this.topic = topic;
    this.timeout = settings.publishTimeout();
    this.blocking = blocking;
  }

  @Override
  public CompletionStage<Void> publish(Request request) {
    CompletableFuture<Void> acked = new CompletableFuture<>();
    byte[] value = Json.bytes(request);
    blocking.execute(
        () -> {
          try {
            producer.send(
                new ProducerRecord<>(topic, request.sessionKey(), value),
                (metadata, error) -> {
                  if (error != null) {
                    acked.completeExceptionally(error);
                  } else {
                    acked.complete(null);
                  }
                });
          } catch (RuntimeException e) {
            acked.completeExceptionally(e);
          }
        });
    return acked.orTimeout(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  @Override
  public void close() {
    producer.close(Duration.ofSeconds(5));
  }
}
