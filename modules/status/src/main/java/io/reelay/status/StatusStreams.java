package io.reelay.status;

import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyQueryMetadata;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.StreamsMetadata;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.ThreadMetadata;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.apache.kafka.streams.state.HostInfo;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The status view's Kafka Streams application in this instance: it waits for the events topic (a
 * worker creates it), then runs {@link StatusProcessor}'s topology. Every status instance of a
 * deployment shares one {@code application.id}, so the events partitions, and the stores, are
 * spread over them, each with a standby copy elsewhere; each instance advertises its HTTP address
 * ({@code application.server}) so the others can route a question to the owner of its answer.
 *
 * <p>Ready once the streams are running (stores restored); a later rebalance leaves it ready, since
 * questions meanwhile are answered 503 (retry) at worst. Stopping leaves the group at once, so the
 * partitions move without waiting for a session timeout.
 */
final class StatusStreams implements LocalStatus.Stores {

  private static final Logger log = LoggerFactory.getLogger(StatusStreams.class);

  private final Properties properties;
  private final Topology topology;
  private final String topic;
  private final String bootstrapServers;
  private volatile KafkaStreams streams; // null until started
  private volatile HostInfo self;
  private final AtomicBoolean everRunning = new AtomicBoolean();
  private final AtomicBoolean stopped = new AtomicBoolean();
  private volatile String waiting = "waiting for the events topic";

  private StatusStreams(Properties properties, Topology topology, String topic, String bootstrapServers) {
    this.properties = properties;
    this.topology = topology;
    this.topic = topic;
    this.bootstrapServers = bootstrapServers;
  }

  /** The application, not started yet (see {@link #start}). */
  static StatusStreams create(
      StoreSettings settings, String applicationId, String bootstrapServers, String topic,
      StatusProcessor.Settings processing, LiveEvents live, MeterRegistry registry) {
    Properties p = new Properties();
    p.putAll(settings.streamsProperties());
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
    p.put(StreamsConfig.STATE_DIR_CONFIG, settings.stateDir().toAbsolutePath().toString());
    p.put(StreamsConfig.NUM_STANDBY_REPLICAS_CONFIG, settings.standbyReplicas());
    p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, settings.replicationFactor());
    p.put(StreamsConfig.ROCKSDB_CONFIG_SETTER_CLASS_CONFIG, BoundedRocksDb.class);
    p.put(BoundedRocksDb.MEMORY, Long.toString(settings.rocksDbMemory()));
    // what Kafka Streams 5 does by default (and asks for now, with a WARN)
    p.putIfAbsent("processing.exception.handler.global.enabled", "true");
    p.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
    p.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.ByteArraySerde.class);
    return new StatusStreams(p, StatusProcessor.topology(topic, processing, live, StatusProcessor.Meters.register(registry)), topic,
        bootstrapServers);
  }

  /**
   * Starts the application once the events topic exists (checked every second, on a thread of its
   * own).
   *
   * @param at the HTTP address other instances reach this one at
   */
  void start(HostInfo at) {
    Properties p = new Properties();
    p.putAll(properties);
    p.put(StreamsConfig.APPLICATION_SERVER_CONFIG, at.host() + ":" + at.port());
    String applicationId = p.getProperty(StreamsConfig.APPLICATION_ID_CONFIG);
    KafkaStreams streams = new KafkaStreams(topology, p);
    streams.setStateListener(
        (now, before) -> {
          if (now == KafkaStreams.State.RUNNING && everRunning.compareAndSet(false, true)) {
            log.info("status stores of {} are ready (application {}, this instance at {}:{})", topic, applicationId, at.host(), at.port());
          }
          if (now == KafkaStreams.State.ERROR) {
            log.error("the status streams of {} stopped with an error; this instance is not ready", topic);
          }
        });
    streams.setUncaughtExceptionHandler(
        e -> {
          // never the record (it may hold anything): the exception's class and the stream thread goes on
          log.error("a status stream thread failed ({}); replacing it", e.getClass().getSimpleName(), e);
          return StreamThreadExceptionResponse.REPLACE_THREAD;
        });
    self = at;
    this.streams = streams;
    Thread starter = new Thread(this::startWhenTopicExists, "reelay-status-start");
    starter.setDaemon(true);
    starter.start();
  }

  private void startWhenTopicExists() {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
    p.put(AdminClientConfig.CLIENT_ID_CONFIG, "reelay-status-start");
    boolean told = false;
    try (Admin admin = Admin.create(p)) {
      while (!stopped.get()) {
        try {
          admin.describeTopics(Set.of(topic)).allTopicNames().get(5, TimeUnit.SECONDS);
          break;
        } catch (ExecutionException e) {
          if (!(e.getCause() instanceof UnknownTopicOrPartitionException)) {
            waiting = "cannot reach Kafka at " + bootstrapServers + " (" + e.getCause().getClass().getSimpleName() + ")";
          } else if (!told) {
            log.info("waiting for topic {} (a worker creates it when it starts)", topic);
            told = true;
          }
        } catch (TimeoutException e) {
          waiting = "cannot reach Kafka at " + bootstrapServers + " (timed out)";
        }
        Thread.sleep(1000);
      }
      synchronized (this) {
        if (!stopped.get()) {
          waiting = "restoring the status stores";
          streams.start();
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException e) {
      log.error("the status streams of {} failed to start", topic, e);
      waiting = "failed to start (" + e.getClass().getSimpleName() + "); see the log";
    }
  }

  /** Whether the stores have been restored once and the application still runs. */
  boolean isReady() {
    KafkaStreams streams = this.streams;
    if (streams == null) {
      return false;
    }
    KafkaStreams.State state = streams.state();
    return everRunning.get() && (state == KafkaStreams.State.RUNNING || state == KafkaStreams.State.REBALANCING);
  }

  /** What readiness waits for, for {@code /readyz}. */
  String notReadyBecause() {
    KafkaStreams streams = this.streams;
    if (streams == null) {
      return "starting";
    }
    KafkaStreams.State state = streams.state();
    if (state == KafkaStreams.State.ERROR || state == KafkaStreams.State.PENDING_ERROR) {
      return "the status streams failed; see the log";
    }
    return streams.state() == KafkaStreams.State.CREATED ? waiting : "restoring the status stores (" + state + ")";
  }

  HostInfo self() {
    return self;
  }

  /** Where a request key's status lives: its active host, standbys and partition (NOT_AVAILABLE while unknown). */
  KeyQueryMetadata owner(String requestKey) {
    KafkaStreams streams = this.streams;
    if (streams == null || streams.state() == KafkaStreams.State.CREATED) {
      return KeyQueryMetadata.NOT_AVAILABLE;
    }
    return streams.queryMetadataForKey(StatusProcessor.REQUESTS, requestKey, Serdes.String().serializer());
  }

  /** The instances holding an active part of the stores, this one included if it does. */
  Set<HostInfo> activeHosts() {
    Set<HostInfo> hosts = new TreeSet<>((a, b) -> a.toString().compareTo(b.toString()));
    KafkaStreams streams = this.streams;
    if (streams == null || streams.state() == KafkaStreams.State.CREATED) {
      return hosts;
    }
    Collection<StreamsMetadata> all = streams.streamsMetadataForStore(StatusProcessor.REQUESTS);
    for (StreamsMetadata m : all) {
      if (!m.topicPartitions().isEmpty()) {
        hosts.add(m.hostInfo());
      }
    }
    return hosts;
  }

  @Override
  public ReadOnlyKeyValueStore<String, byte[]> requests(int partition) {
    return running().store(StoreQueryParameters.fromNameAndType(StatusProcessor.REQUESTS, QueryableStoreTypes.<String, byte[]>keyValueStore())
        .withPartition(partition));
  }

  /** The requests store of a partition this instance holds as active or standby (a read that may be behind). */
  ReadOnlyKeyValueStore<String, byte[]> requestsStale(int partition) {
    return running().store(StoreQueryParameters.fromNameAndType(StatusProcessor.REQUESTS, QueryableStoreTypes.<String, byte[]>keyValueStore())
        .withPartition(partition).enableStaleStores());
  }

  @Override
  public ReadOnlyKeyValueStore<String, String> listing(int partition) {
    return running().store(StoreQueryParameters.fromNameAndType(StatusProcessor.LISTING, QueryableStoreTypes.<String, String>keyValueStore())
        .withPartition(partition));
  }

  @Override
  public List<Integer> partitions() {
    List<Integer> out = new ArrayList<>();
    KafkaStreams streams = this.streams;
    if (streams == null) {
      return out;
    }
    for (ThreadMetadata t : streams.metadataForLocalThreads()) {
      t.activeTasks().forEach(task -> out.add(task.taskId().partition()));
    }
    return out;
  }

  private KafkaStreams running() {
    KafkaStreams streams = this.streams;
    if (streams == null) {
      throw LocalStatus.moving();
    }
    return streams;
  }

  @Override
  public int partitionOf(String requestKey) {
    KeyQueryMetadata m = owner(requestKey);
    if (m == KeyQueryMetadata.NOT_AVAILABLE) {
      throw LocalStatus.moving();
    }
    return m.partition();
  }

  /** Stops the streams, leaving the group so the partitions move at once. */
  CompletionStage<Void> stop(Duration timeout) {
    return CompletableFuture.runAsync(
        () -> {
          synchronized (this) {
            stopped.set(true);
          }
          KafkaStreams streams = this.streams;
          if (streams == null) {
            return;
          }
          streams.close(CloseOptions.timeout(timeout).withGroupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP));
        });
  }

  /** Stops without leaving the group, as a crash would (tests of failover). */
  void crash() {
    stopped.set(true);
    KafkaStreams streams = this.streams;
    if (streams == null) {
      return;
    }
    streams.close(CloseOptions.timeout(Duration.ofSeconds(5)).withGroupMembershipOperation(CloseOptions.GroupMembershipOperation.REMAIN_IN_GROUP));
  }
}
