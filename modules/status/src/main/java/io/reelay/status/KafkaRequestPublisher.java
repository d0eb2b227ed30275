package io.reelay.status;

import io.opentelemetry.context.Context;
import io.reelay.protocol.Event;
import io.reelay.protocol.Json;
import io.reelay.protocol.KafkaTracing;
import io.reelay.protocol.Request;
import io.reelay.protocol.Topics;
import java.time.Duration;
import java.time.Instant;
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
 *
 * <p>Once Kafka took a request, its SUBMITTED event (seq 0) goes to the events topic, so every
 * status instance knows the request before any worker has taken it: a {@code GET} or {@code
 * /events} right after the POST finds it. Sent only after the request (a request that never landed
 * has no SUBMITTED), keyed like the worker's events so it lands before them in their partition; a
 * worker's QUEUED (seq 1) that still overtakes it makes the view ignore it.
 */
final class KafkaRequestPublisher implements RequestPublisher {

  private final KafkaProducer<String, byte[]> producer;
  private final String topic;
  private final String eventsTopic;
  private final Duration timeout;
  private final Executor blocking;

  KafkaRequestPublisher(String bootstrapServers, Topics topics, StatusSettings settings, Executor blocking) {
    Map<String, Object> p = new HashMap<>(settings.producerProperties());
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
    p.put(ProducerConfig.CLIENT_ID_CONFIG, "reelay-status-publisher");
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, Long.toString(settings.publishTimeout().toMillis()));
    this.producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
    this.topic = topics.requests();
    this.eventsTopic = topics.events();
    this.timeout = settings.publishTimeout();
    this.blocking = blocking;
  }

  @Override
  public CompletionStage<Void> publish(Request request, Context trace) {
    Event submitted = Event.submitted(request, Instant.now());
    return send(new ProducerRecord<>(topic, request.sessionKey(), Json.bytes(request)), request, trace)
        .thenCompose(v -> send(new ProducerRecord<>(eventsTopic, Topics.requestKey(request.tenant(), request.requestId()),
            Json.bytes(submitted)), request, trace))
        .toCompletableFuture()
        .orTimeout(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Sends {@code record} in a PRODUCER span of {@code trace}, whose context the record carries. */
  private CompletionStage<Void> send(ProducerRecord<String, byte[]> record, Request request, Context trace) {
    Context span = KafkaTracing.producer(trace, record.topic(), request.requestId());
    KafkaTracing.inject(span, record.headers());
    return KafkaTracing.end(span, send(record));
  }

  private CompletionStage<Void> send(ProducerRecord<String, byte[]> record) {
    CompletableFuture<Void> acked = new CompletableFuture<>();
    blocking.execute(
        () -> {
          try {
            producer.send(record, (metadata, error) -> {
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
    return acked;
  }

  @Override
  public void close() {
    producer.close(Duration.ofSeconds(5));
  }
}
