package io.reelay.status;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.reelay.protocol.Event;
import io.reelay.protocol.Json;
import io.reelay.protocol.Topics;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;

/**
 * The real status topology ({@link StatusProcessor}, RocksDB stores) run by Kafka Streams' own test
 * driver, one partition, no broker: for tests of the HTTP routes and of the processor. Events are
 * piped in as the events topic would carry them (keyed tenant/requestId); {@link #queries()} reads
 * the stores as a single status instance does.
 */
final class TestStore implements AutoCloseable {

  static final String TOPIC = "test.events";

  final LiveEvents live;
  final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final TopologyTestDriver driver;
  private final TestInputTopic<String, byte[]> input;
  private final LocalStatus local;
  private final Path stateDir;

  TestStore() {
    this(100, 64, 256 * 1024, Duration.ofDays(7));
  }

  TestStore(int maxHistory, int liveBuffer, int maxHistoryBytes, Duration retention) {
    try {
      stateDir = Files.createTempDirectory("reelay-status-test");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    live = new LiveEvents(liveBuffer);
    StatusProcessor.Settings settings = new StatusProcessor.Settings(maxHistory, maxHistoryBytes, retention, Duration.ofMinutes(10));
    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, "test-status");
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "127.0.0.1:9");
    p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
    p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
    p.put(StreamsConfig.ROCKSDB_CONFIG_SETTER_CLASS_CONFIG, BoundedRocksDb.class);
    driver = new TopologyTestDriver(StatusProcessor.topology(TOPIC, settings, live, StatusProcessor.Meters.register(registry)), p);
    input = driver.createInputTopic(TOPIC, Serdes.String().serializer(), Serdes.ByteArray().serializer());
    local = new LocalStatus(new Stores(), live, maxHistory);
  }

  private final class Stores implements LocalStatus.Stores {
    @Override
    public ReadOnlyKeyValueStore<String, byte[]> requests(int partition) {
      return driver.getKeyValueStore(StatusProcessor.REQUESTS);
    }

    @Override
    public ReadOnlyKeyValueStore<String, String> listing(int partition) {
      return driver.getKeyValueStore(StatusProcessor.LISTING);
    }

    @Override
    public List<Integer> partitions() {
      return List.of(0);
    }

    @Override
    public int partitionOf(String requestKey) {
      return 0;
    }
  }

  /** {@code settings} with the stores of a status server in a fresh temporary directory. */
  static StatusSettings inTempDir(StatusSettings settings) {
    try {
      return settings.withStore(settings.store().withStateDir(Files.createTempDirectory("reelay-status-state")));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Pipes {@code event} in as the events topic carries it, received at {@code receivedAt}. */
  synchronized void apply(Event event, Instant receivedAt) {
    input.pipeInput(Topics.requestKey(event.tenant(), event.requestId()), Json.bytes(event), receivedAt);
  }

  /** Pipes a raw record in (any key, any bytes). */
  synchronized void applyRaw(String key, byte[] value) {
    input.pipeInput(key, value, Instant.now());
  }

  /** Moves the driver's wall clock (the retention purge runs on it). */
  synchronized void advanceWallClock(Duration d) {
    driver.advanceWallClockTime(d);
  }

  StatusQueries queries() {
    return local;
  }

  LocalStatus local() {
    return local;
  }

  Optional<RequestStatus> status(String tenant, String requestId) {
    return local.statusNow(tenant, requestId);
  }

  double counted(String name, String reason) {
    var c = reason == null ? registry.find(name).counter() : registry.find(name).tag("reason", reason).counter();
    return c == null ? 0 : c.count();
  }

  private boolean closed;

  @Override
  public synchronized void close() {
    if (!closed) {
      closed = true;
      live.close();
      driver.close();
    }
  }
}
