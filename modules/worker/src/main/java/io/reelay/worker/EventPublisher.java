package io.reelay.worker;

import io.reelay.protocol.Event;
import io.reelay.protocol.Json;
import io.reelay.protocol.Topics;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The worker's one shared (idempotent) producer: status events, terminal events on {@code
 * completions}, dead letters. Records of one key keep their order.
 */
public final class EventPublisher implements AutoCloseable {

  private final KafkaProducer<String, byte[]> producer;
  private final Topics topics;
  // the last seq published per unfinished request, so whoever ends a request after a crash
  // continues its sequence
  private final java.util.concurrent.ConcurrentHashMap<String, Long> lastSeq = new java.util.concurrent.ConcurrentHashMap<>();

  public EventPublisher(String bootstrap, Topics topics, Map<String, String> overrides) {
    Map<String, Object> p = new HashMap<>(overrides);
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    p.putIfAbsent(ProducerConfig.CLIENT_ID_CONFIG, "reelay-worker-producer");
    this.producer = new KafkaProducer<>(p);
    this.topics = topics;
  }

  /** Publishes a status event; a terminal one also goes to {@code completions}. */
  public CompletionStage<Void> publish(Event e) {
    if (e.isTerminal()) {
      lastSeq.remove(e.requestId());
    } else {
      lastSeq.merge(e.requestId(), e.seq(), Math::max);
    }
    byte[] json = Json.bytes(e);
    CompletionStage<Void> sent = send(new ProducerRecord<>(topics.events(), e.requestId(), json));
    if (e.isTerminal()) {
      CompletionStage<Void> completion = send(new ProducerRecord<>(topics.completions(), e.requestId(), json));
      return sent.thenCombine(completion, (a, b) -> null);
    }
    return sent;
  }

  /** The session's latest snapshot, on the compacted sessions topic keyed by session key. */
  public CompletionStage<Void> snapshot(io.reelay.protocol.SessionSnapshot s) {
    return send(new ProducerRecord<>(topics.sessions(), s.sessionKey(), Json.bytes(s)));
  }

  /** The seq that follows the last one published for an unfinished request (1 if none). */
  public long nextSeq(String requestId) {
    return lastSeq.getOrDefault(requestId, 0L) + 1;
  }

  /** The original bytes, unchanged, with the reason and where they came from in headers. */
  public CompletionStage<Void> deadLetter(ConsumerRecord<String, byte[]> rec, String reason) {
    ProducerRecord<String, byte[]> r = new ProducerRecord<>(topics.dlq(), rec.key(), rec.value());
    r.headers()
        .add("reelay.reason", reason.getBytes(StandardCharsets.UTF_8))
        .add("reelay.source.topic", rec.topic().getBytes(StandardCharsets.UTF_8))
        .add("reelay.source.partition", Integer.toString(rec.partition()).getBytes(StandardCharsets.UTF_8))
        .add("reelay.source.offset", Long.toString(rec.offset()).getBytes(StandardCharsets.UTF_8))
        .add("reelay.at", Instant.now().toString().getBytes(StandardCharsets.UTF_8));
    return send(r);
  }

  private CompletionStage<Void> send(ProducerRecord<String, byte[]> r) {
    CompletableFuture<Void> f = new CompletableFuture<>();
    producer.send(
        r,
        (meta, err) -> {
          if (err != null) {
            f.completeExceptionally(err);
          } else {
            f.complete(null);
          }
        });
    return f;
  }

  @Override
  public void close() {
    producer.close(java.time.Duration.ofSeconds(5));
  }
}
