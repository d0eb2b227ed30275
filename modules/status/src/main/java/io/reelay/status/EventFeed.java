package io.reelay.status;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigUtil;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.reelay.protocol.Event;
import io.reelay.protocol.GroupProtocol;
import io.reelay.protocol.Json;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.kafka.ConsumerSettings;
import org.apache.pekko.kafka.Subscriptions;
import org.apache.pekko.kafka.javadsl.Consumer;
import org.apache.pekko.stream.KillSwitches;
import org.apache.pekko.stream.RestartSettings;
import org.apache.pekko.stream.UniqueKillSwitch;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.RestartSource;
import org.apache.pekko.stream.javadsl.Sink;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Feeds {@code <prefix>.events} into a {@link StatusView}. Every instance reads the whole topic
 * from the beginning with its own consumer group and never commits: the view is rebuilt on start.
 * An unreadable record is counted, logged without its content and skipped. The stream restarts
 * with backoff if it fails (duplicates are ignored by the view).
 *
 * <p>Readiness: caught up once the consumer reached the end offsets the topic had at the first
 * check (or the topic does not exist yet: nothing to replay).
 */
final class EventFeed {

  private static final Logger log = LoggerFactory.getLogger(EventFeed.class);

  private final String topic;
  private final StatusView view;
  private final Map<Integer, Long> positions = new ConcurrentHashMap<>();
  private final AtomicBoolean ready = new AtomicBoolean();
  private final Counter consumed;
  private final Counter duplicates;
  private final Counter unreadable;
  private final Admin admin;
  private final ScheduledExecutorService readinessChecks;
  private volatile Map<Integer, Long> catchUpTargets;
  private UniqueKillSwitch killSwitch;
  private CompletionStage<Done> done;

  private EventFeed(String bootstrapServers, String topic, StatusView view, MeterRegistry registry) {
    this.topic = topic;
    this.view = view;
    this.consumed = Counter.builder("reelay_status_events_consumed").description("events read from the events topic").register(registry);
    this.duplicates = Counter.builder("reelay_status_events_ignored").tag("reason", "duplicate").description("events already seen (seq not above the last)").register(registry);
    this.unreadable = Counter.builder("reelay_status_events_ignored").tag("reason", "unreadable").description("records that are not a readable event").register(registry);
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
    p.put(AdminClientConfig.CLIENT_ID_CONFIG, "reelay-status-readiness");
    this.admin = Admin.create(p);
    this.readinessChecks =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "reelay-status-readiness");
              t.setDaemon(true);
              return t;
            });
  }

  static EventFeed start(
      ActorSystem<?> system, StatusSettings settings, String bootstrapServers, String topic, StatusView view,
      MeterRegistry registry) {
    EventFeed feed = new EventFeed(bootstrapServers, topic, view, registry);
    String groupId = "reelay-status-" + UUID.randomUUID();
    ConsumerSettings<byte[], byte[]> consumerSettings =
        ConsumerSettings.create(consumerConfig(system, settings.consumerProperties()), new ByteArrayDeserializer(), new ByteArrayDeserializer())
            .withBootstrapServers(bootstrapServers)
            .withGroupId(groupId)
            .withClientId(groupId)
            .withProperties(settings.consumerProperties())
            // never commits: don't wait for commits when stopping
            .withStopTimeout(Duration.ZERO);
    RestartSettings restart =
        RestartSettings.create(settings.consumerRestartMinBackoff(), settings.consumerRestartMaxBackoff(), 0.2);
    Pair<UniqueKillSwitch, CompletionStage<Done>> mat =
        RestartSource.onFailuresWithBackoff(
                restart, () -> Consumer.plainSource(consumerSettings, Subscriptions.topics(topic)))
            .viaMat(KillSwitches.single(), Keep.right())
            .toMat(Sink.foreach(feed::handle), Keep.both())
            .run(system);
    feed.killSwitch = mat.first();
    feed.done = mat.second();
    feed.done.whenComplete(
        (d, t) -> {
          if (t != null) {
            log.error("events stream of {} stopped: {}", topic, t.toString());
          }
          feed.ready.set(false);
        });
    long interval = Math.max(50, settings.readyCheckInterval().toMillis());
    feed.readinessChecks.scheduleWithFixedDelay(feed::checkReadiness, 0, interval, TimeUnit.MILLISECONDS);
    log.info("reading {} from the beginning as group {}", topic, groupId);
    return feed;
  }

  /**
   * {@code pekko.kafka.consumer}, minus the classic-group settings a KIP-848 consumer refuses
   * (they may be there for the worker's classic groups).
   */
  static Config consumerConfig(ActorSystem<?> system, Map<String, String> consumerProperties) {
    Config c = system.settings().config().getConfig("pekko.kafka.consumer");
    if (GroupProtocol.isConsumer(consumerProperties)) {
      for (String key : GroupProtocol.CLASSIC_ONLY) {
        c = c.withoutPath("kafka-clients." + key).withoutPath(ConfigUtil.joinPath("kafka-clients", key));
      }
    }
    return c;
  }

  boolean isReady() {
    return ready.get();
  }

  CompletionStage<Done> stop() {
    readinessChecks.shutdownNow();
    killSwitch.shutdown();
    ready.set(false);
    return done.exceptionally(t -> Done.getInstance())
        .toCompletableFuture()
        .completeOnTimeout(Done.getInstance(), 10, TimeUnit.SECONDS)
        .thenApply(
            d -> {
              admin.close(Duration.ofSeconds(2));
              return d;
            });
  }

  private void handle(ConsumerRecord<byte[], byte[]> record) {
    positions.merge(record.partition(), record.offset() + 1, Math::max);
    consumed.increment();
    if (record.value() == null) {
      unreadable.increment();
      return;
    }
    Event event;
    try {
      event = Json.mapper().readValue(record.value(), Event.class);
    } catch (Exception e) {
      unreadable.increment();
      // the content may be anything, including secrets: log where, never what
      log.warn("skipping an unreadable event at {}-{}@{} ({})", record.topic(), record.partition(), record.offset(),
          e.getClass().getSimpleName());
      return;
    }
    StatusView.Applied applied = view.apply(event, Instant.ofEpochMilli(record.timestamp()));
    if (applied == StatusView.Applied.IGNORED) {
      duplicates.increment();
    }
  }

  private void checkReadiness() {
    if (ready.get()) {
      return;
    }
    try {
      if (catchUpTargets == null) {
        Map<String, TopicDescription> d;
        try {
          d = admin.describeTopics(Set.of(topic)).allTopicNames().get(5, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
          if (e.getCause() instanceof UnknownTopicOrPartitionException) {
            // nothing to replay yet; the consumer picks the topic up once the worker creates it
            markReady();
            return;
          }
          throw e;
        }
        Map<TopicPartition, OffsetSpec> request =
            d.get(topic).partitions().stream()
                .collect(Collectors.toMap(p -> new TopicPartition(topic, p.partition()), p -> OffsetSpec.latest()));
        Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> ends =
            admin.listOffsets(request).all().get(5, TimeUnit.SECONDS);
        Map<Integer, Long> targets = new HashMap<>();
        ends.forEach((tp, info) -> targets.put(tp.partition(), info.offset()));
        catchUpTargets = targets;
      }
      boolean caughtUp =
          catchUpTargets.entrySet().stream()
              .allMatch(t -> t.getValue() <= 0 || positions.getOrDefault(t.getKey(), 0L) >= t.getValue());
      if (caughtUp) {
        markReady();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Exception e) {
      log.debug("readiness check of {} failed: {}", topic, e.toString());
    }
  }

  private void markReady() {
    if (!done.toCompletableFuture().isDone() && ready.compareAndSet(false, true)) {
      log.info("status view caught up with {} ({} requests)", topic, view.size());
    }
  }
}
