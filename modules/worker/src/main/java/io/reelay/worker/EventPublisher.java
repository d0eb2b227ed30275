package io.reelay.worker;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Metrics;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.kafka.KafkaClientMetrics;
import io.opentelemetry.context.Context;
import io.reelay.protocol.Event;
import io.reelay.protocol.Json;
import io.reelay.protocol.KafkaTracing;
import io.reelay.protocol.SessionSnapshot;
import io.reelay.protocol.Topics;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The worker's one shared (idempotent) producer: status events, terminal events on {@code
 * completions}, snapshots, dead letters. Records of one key keep their order.
 *
 * <p>Callers never block: {@link KafkaProducer#send} can block its caller for up to {@code
 * max.block.ms} (60 s) while it waits for a topic's metadata, which is exactly what happens when the
 * broker is away and a topic is written for the first time (or again after {@code
 * metadata.max.idle.ms}). Actors call this class from dispatcher threads, so every send is handed
 * to one dedicated thread, in call order; the broker being away then only delays acknowledgements
 * (up to {@code delivery.timeout.ms}), and the rest of the worker keeps running.
 */
public final class EventPublisher implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(EventPublisher.class);

  private final KafkaProducer<String, byte[]> producer;
  private final Topics topics;
  // the last seq published per unfinished request (by Topics.requestKey), so whoever ends a request after
  // a crash continues its sequence
  private final ConcurrentHashMap<String, Long> lastSeq = new ConcurrentHashMap<>();

  private volatile boolean closed;
  private volatile boolean metadataKnown;
  private volatile long lastSuccess;
  private volatile long lastFailure;
  private final MeterRegistry meters;
  private final KafkaClientMetrics producerMetrics;
  private final Timer snapshotWrites;
  private final SnapshotIndex snapshotIndex = new SnapshotIndex();

  private final ExecutorService sender = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "reelay-event-sender");
    t.setDaemon(true);
    return t;
  });

  public EventPublisher(String bootstrap, Topics topics, Map<String, String> overrides) {
    this(bootstrap, topics, overrides, Metrics.globalRegistry);
  }

  /** @param meters where the producer's own metrics, snapshot writes and request outcomes are measured */
  public EventPublisher(String bootstrap, Topics topics, Map<String, String> overrides, MeterRegistry meters) {
    this.meters = meters;
    Map<String, Object> p = new HashMap<>(overrides);
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    p.putIfAbsent(ProducerConfig.CLIENT_ID_CONFIG, "reelay-worker-producer");
    this.producer = new KafkaProducer<>(p);
    this.producerMetrics = new KafkaClientMetrics(producer);
    producerMetrics.bindTo(meters);
    this.snapshotWrites = Timer.builder("reelay_worker_snapshot_writes")
        .description("session snapshots sent to the sessions topic, until Kafka acknowledged them")
        .publishPercentileHistogram()
        .register(meters);
    this.topics = topics;
    // learn every output topic's partitions now, while the broker is surely there
    sender.execute(() -> {
      boolean all = true;
      for (String topic : List.of(topics.events(), topics.completions(), topics.sessions(), topics.dlq())) {
        try {
          producer.partitionsFor(topic);
        } catch (RuntimeException e) {
          all = false;
          log.warn("no metadata yet for {} ({}); the first event sent there will wait for it", topic, e.toString());
        }
      }
      metadataKnown = all;
    });
  }

  /** Publishes a status event; a terminal one also goes to {@code completions}. */
  public CompletionStage<Void> publish(Event e) {
    return publish(e, null, Context.current());
  }

  /**
   * The same, for a request sent with a {@code callbackUrl}: its completions record carries the URL
   * in a header, where the webhook dispatcher finds it (never in the event, which anyone reading
   * the request's status sees). Sent in a PRODUCER span of {@code trace} (the request's), whose
   * {@code traceparent} both records carry.
   */
  public CompletionStage<Void> publish(Event e, String callbackUrl, Context trace) {
    String key = Topics.requestKey(e.tenant(), e.requestId());
    if (e.isTerminal()) {
      lastSeq.remove(key);
    } else {
      lastSeq.merge(key, e.seq(), Math::max);
    }
    byte[] json = Json.bytes(e);
    Context span = KafkaTracing.producer(trace, topics.events(), e.requestId());
    ProducerRecord<String, byte[]> event = new ProducerRecord<>(topics.events(), key, json);
    KafkaTracing.inject(span, event.headers());
    CompletionStage<Void> sent = send(event);
    if (e.isTerminal()) {
      ProducerRecord<String, byte[]> record = new ProducerRecord<>(topics.completions(), key, json);
      KafkaTracing.inject(span, record.headers());
      if (callbackUrl != null && !callbackUrl.isBlank()) {
        record.headers().add(Topics.CALLBACK_URL_HEADER, callbackUrl.getBytes(StandardCharsets.UTF_8));
      }
      CompletionStage<Void> completion = send(record);
      sent = sent.thenCombine(completion, (x, y) -> null);
    }
    return KafkaTracing.end(span, sent);
  }

  /**
   * The session's latest snapshot on the compacted sessions topic, keyed by {@link #snapshotKey} and
   * written to the partition its requests come from (co-partitioned by construction, whatever the
   * key), so whoever is assigned that requests partition finds it in the same sessions partition.
   * Without a known partition (a session not fed from Kafka), the key decides.
   */
  public CompletionStage<Void> snapshot(SessionSnapshot s, int partition) {
    String key = snapshotKey(s.tenant(), s.sessionKey());
    long start = System.nanoTime();
    return sent(new ProducerRecord<>(topics.sessions(), partition >= 0 ? partition : null, key, Json.bytes(s)))
        .whenComplete((meta, err) -> {
          snapshotWrites.record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
          if (meta != null) {
            snapshotIndex.written(meta.partition(), key, meta.offset()); // before the write is seen done
          }
        })
        .thenApply(meta -> null);
  }

  /** Where the latest snapshot of each session of this worker's partitions is (see {@link SnapshotIndex}). */
  SnapshotIndex snapshotIndex() {
    return snapshotIndex;
  }

  /** Sessions of different tenants may share a session key: the snapshot key keeps them apart. */
  public static String snapshotKey(String tenant, String sessionKey) {
    return tenant + "/" + sessionKey;
  }

  /** Waits until everything sent so far is acknowledged (before a partition is handed over). */
  public void flush() {
    try {
      sender.submit(producer::flush).get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | RejectedExecutionException e) {
      log.warn("flushing events failed: {}", e.toString());
    }
  }

  /** The seq that follows the last one published for a tenant's unfinished request (1 if none). */
  public long nextSeq(String tenant, String requestId) {
    return lastSeq.getOrDefault(Topics.requestKey(tenant, requestId), 0L) + 1;
  }

  /**
   * The original bytes, unchanged (cut to {@code maxBytes} when larger, with the original size in
   * {@code reelay.truncated}), with the reason and where they came from in headers.
   */
  public CompletionStage<Void> deadLetter(ConsumerRecord<String, byte[]> rec, String reason, long maxBytes) {
    byte[] value = rec.value();
    boolean cut = value != null && value.length > maxBytes;
    ProducerRecord<String, byte[]> r =
        new ProducerRecord<>(topics.dlq(), rec.key(), cut ? Arrays.copyOf(value, (int) maxBytes) : value);
    if (cut) {
      r.headers().add("reelay.truncated", Integer.toString(value.length).getBytes(StandardCharsets.UTF_8));
    }
    r.headers()
        .add("reelay.reason", reason.getBytes(StandardCharsets.UTF_8))
        .add("reelay.source.topic", rec.topic().getBytes(StandardCharsets.UTF_8))
        .add("reelay.source.partition", Integer.toString(rec.partition()).getBytes(StandardCharsets.UTF_8))
        .add("reelay.source.offset", Long.toString(rec.offset()).getBytes(StandardCharsets.UTF_8))
        .add("reelay.at", Instant.now().toString().getBytes(StandardCharsets.UTF_8));
    return send(r);
  }

  private CompletionStage<Void> send(ProducerRecord<String, byte[]> r) {
    return sent(r).thenApply(meta -> null);
  }

  /** Hands {@code r} to the producer (on the sender thread); completes with where Kafka put it. */
  private CompletionStage<RecordMetadata> sent(ProducerRecord<String, byte[]> r) {
    CompletableFuture<RecordMetadata> f = new CompletableFuture<>();
    try {
      sender.execute(() -> {
        try {
          producer.send(r, (meta, err) -> {
            if (err != null) {
              lastFailure = System.nanoTime();
              f.completeExceptionally(err);
            } else {
              lastSuccess = System.nanoTime();
              f.complete(meta);
            }
          });
        } catch (RuntimeException e) {
          f.completeExceptionally(e);
        }
      });
    } catch (RejectedExecutionException closed) {
      f.completeExceptionally(new IllegalStateException("the event publisher is closed", closed));
    }
    return f;
  }

  /**
   * Sends with {@code send} until Kafka takes it, with backoff between tries (from 1 s, doubling,
   * up to 30 s, with jitter), each failed try a WARN naming {@code what} (an ERROR from the sixth).
   * Fails only once the publisher is closed (the worker stops): for what must not be lost or
   * skipped, such as a terminal event or a dead letter, whose record must not be committed before.
   */
  public CompletionStage<Void> untilTaken(String what, Supplier<CompletionStage<Void>> send) {
    return untilTaken(what, send, null);
  }

  /**
   * The same, but gives up once Kafka has refused for {@code giveUpAfter} (null: never): it then
   * fails with {@link NotTaken}, for a caller that has a better remedy than waiting on.
   */
  public CompletionStage<Void> untilTaken(String what, Supplier<CompletionStage<Void>> send, Duration giveUpAfter) {
    CompletableFuture<Void> taken = new CompletableFuture<>();
    long giveUpAt = giveUpAfter == null ? Long.MAX_VALUE : System.nanoTime() + giveUpAfter.toNanos();
    tryUntilTaken(what, send, 1, giveUpAt, taken);
    return taken;
  }

  /** Kafka kept refusing {@code what} for as long as its sender would wait. */
  public static final class NotTaken extends RuntimeException {
    NotTaken(String what, int tries, Throwable last) {
      super(what + " not taken by Kafka after " + tries + " tries (last: " + last + ")", last);
    }
  }

  private void tryUntilTaken(String what, Supplier<CompletionStage<Void>> send, int attempt, long giveUpAt,
      CompletableFuture<Void> taken) {
    send.get().whenComplete((ok, err) -> {
      if (err == null) {
        taken.complete(null);
      } else if (closed) {
        log.warn("{} not taken by Kafka, and the worker is stopping: {}", what, err.toString());
        taken.completeExceptionally(err);
      } else if (System.nanoTime() - giveUpAt >= 0) {
        taken.completeExceptionally(new NotTaken(what, attempt, err));
      } else {
        long cap = Math.min(RETRY_MAX.toMillis(), RETRY_FIRST.toMillis() << Math.min(attempt - 1, 16));
        long wait = cap / 2 + ThreadLocalRandom.current().nextLong(cap / 2 + 1);
        if (attempt < LOUD_AFTER) {
          log.warn("{} not taken by Kafka ({}); trying again in {} ms (attempt {})", what, err.toString(), wait, attempt + 1);
        } else {
          // about a minute of refusals: say it loudly, what waits behind it is not committed meanwhile
          log.error("{} still not taken by Kafka after {} tries ({}); what waits behind it is held, not committed;"
              + " trying again in {} ms", what, attempt, err.toString(), wait);
        }
        CompletableFuture.delayedExecutor(wait, TimeUnit.MILLISECONDS)
            .execute(() -> tryUntilTaken(what, send, attempt + 1, giveUpAt, taken));
      }
    });
  }

  private static final Duration RETRY_FIRST = Duration.ofSeconds(1);
  private static final Duration RETRY_MAX = Duration.ofSeconds(30);
  private static final int LOUD_AFTER = 6;

  /**
   * Whether the producer can be used: it learnt the output topics' metadata, and Kafka took the
   * latest send (or nothing was sent since), and it is not closed.
   */
  public boolean usable() {
    return !closed && (metadataKnown || lastSuccess != 0) && lastFailure <= lastSuccess;
  }

  /** Where this worker's meters are. */
  MeterRegistry meters() {
    return meters;
  }

  /** Whether {@link #close} was called: nothing more will be sent. */
  public boolean closed() {
    return closed;
  }

  @Override
  public void close() {
    closed = true;
    sender.shutdown();
    try {
      if (!sender.awaitTermination(5, TimeUnit.SECONDS)) {
        log.warn("events still waiting to be handed to Kafka after 5 s; closing anyway");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    producerMetrics.close();
    producer.close(Duration.ofSeconds(5));
  }
}
