package io.reelay.worker;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.binder.kafka.KafkaClientMetrics;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.pekko.kafka.ConsumerSettings;

/**
 * The consumer factory of a worker's request source: each consumer it makes (one per start or
 * restart of the source) has the Kafka client's own metrics (lag per partition, fetch rates) bound
 * to the worker's registry, tagged with the worker; the previous consumer's are dropped.
 */
final class MeasuredConsumers {

  // refreshed often, so a newly assigned partition's lag shows within seconds
  private static final Duration REFRESH = Duration.ofSeconds(5);

  private final MeterRegistry meters;
  private final List<Tag> tags;
  private final ScheduledExecutorService refresh = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "reelay-kafka-metrics");
    t.setDaemon(true);
    return t;
  });
  private volatile KafkaClientMetrics current;

  MeasuredConsumers(MeterRegistry meters, String worker) {
    this.meters = meters;
    this.tags = List.of(Tag.of("worker", worker));
  }

  /** For {@link ConsumerSettings#withConsumerFactory}. */
  synchronized Consumer<String, byte[]> create(ConsumerSettings<String, byte[]> s) {
    KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(s.getProperties(), new StringDeserializer(), new ByteArrayDeserializer());
    if (current != null) {
      current.close(); // the consumer before a restart of the request source
    }
    current = new KafkaClientMetrics(c, tags, refresh, REFRESH);
    current.bindTo(meters);
    return c;
  }

  /** The worker stopped. */
  synchronized void close() {
    if (current != null) {
      current.close();
    }
    refresh.shutdownNow();
  }
}
