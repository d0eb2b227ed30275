package io.reelay.kafka;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import kafka.tools.StorageTool;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.utils.Time;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real Apache Kafka KRaft broker (combined broker + controller, node id 1) running inside this
 * JVM, listening on 127.0.0.1 only. Used by {@code reelay up}/{@code reelay kafka}, by tests (see
 * {@link TestKafka}) and by the load test.
 *
 * <p>A data directory that was formatted before is reused as it is (cluster id read from its
 * {@code meta.properties}), so topics and offsets survive a restart.
 */
public final class EmbeddedKafka implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(EmbeddedKafka.class);
  private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(60);
  private static final String META_PROPERTIES = "meta.properties";

  /**
   * How to start the broker.
   *
   * @param dataDir the broker's log directory (created if missing)
   * @param port the client (PLAINTEXT) port; 0 picks a free one
   * @param controllerPort the KRaft controller port; 0 picks a free one
   * @param formatIfNeeded format {@code dataDir} when it holds no {@code meta.properties}; when
   *     false an unformatted directory is an error
   */
  public record Settings(Path dataDir, int port, int controllerPort, boolean formatIfNeeded) {
    public Settings {
      if (dataDir == null) {
        throw new IllegalArgumentException("dataDir is required");
      }
      if (port < 0 || port > 65535 || controllerPort < 0 || controllerPort > 65535) {
        throw new IllegalArgumentException("ports must be 0..65535");
      }
    }

    /** Free ports, format on first use. */
    public static Settings of(Path dataDir) {
      return new Settings(dataDir, 0, 0, true);
    }
  }

  private final KafkaRaftServer server;
  private final int port;
  private final Path dataDir;
  private final String clusterId;
  private final AtomicBoolean closed = new AtomicBoolean();

  private EmbeddedKafka(KafkaRaftServer server, int port, Path dataDir, String clusterId) {
    this.server = server;
    this.port = port;
    this.dataDir = dataDir;
    this.clusterId = clusterId;
  }

  /** Formats (if needed) and starts the broker; returns once it accepts client connections. */
  public static EmbeddedKafka start(Settings settings) {
    Path dataDir = settings.dataDir().toAbsolutePath();
    try {
      Files.createDirectories(dataDir);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create Kafka data dir " + dataDir, e);
    }
    int port = settings.port() == 0 ? freePort() : requireFree(settings.port());
    int controllerPort = settings.controllerPort() == 0 ? freePort(port) : requireFree(settings.controllerPort());
    Properties props = serverProperties(dataDir, port, controllerPort);

    String clusterId = readClusterId(dataDir);
    if (clusterId == null) {
      if (!settings.formatIfNeeded()) {
        throw new IllegalStateException("Kafka data dir " + dataDir + " is not formatted (no meta.properties)");
      }
      clusterId = Uuid.randomUuid().toString();
      format(dataDir, props, clusterId);
    }

    KafkaRaftServer server = new KafkaRaftServer(KafkaConfig.fromProps(props, false), Time.SYSTEM);
    EmbeddedKafka kafka = new EmbeddedKafka(server, port, dataDir, clusterId);
    try {
      server.startup();
      awaitReady(port);
    } catch (RuntimeException e) {
      kafka.close();
      throw e;
    }
    log.info("Kafka broker ready on 127.0.0.1:{} (cluster {}, data in {})", port, clusterId, dataDir);
    return kafka;
  }

  /** {@code 127.0.0.1:<port>}. */
  public String bootstrapServers() {
    return "127.0.0.1:" + port;
  }

  public int port() {
    return port;
  }

  public Path dataDir() {
    return dataDir;
  }

  public String clusterId() {
    return clusterId;
  }

  /** Stops the broker and waits until it has released its data directory. Idempotent. */
  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      try {
        server.shutdown();
        server.awaitShutdown();
        log.info("Kafka broker on 127.0.0.1:{} stopped", port);
      } catch (RuntimeException e) {
        log.warn("Kafka broker on 127.0.0.1:{} did not stop cleanly: {}", port, e.toString());
      }
    }
  }

  static Properties serverProperties(Path dataDir, int port, int controllerPort) {
    Properties p = new Properties();
    p.putAll(
        Map.ofEntries(
            Map.entry("process.roles", "broker,controller"),
            Map.entry("node.id", "1"),
            Map.entry("controller.quorum.voters", "1@127.0.0.1:" + controllerPort),
            Map.entry("listeners", "PLAINTEXT://127.0.0.1:" + port + ",CONTROLLER://127.0.0.1:" + controllerPort),
            Map.entry("advertised.listeners", "PLAINTEXT://127.0.0.1:" + port),
            Map.entry("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"),
            Map.entry("controller.listener.names", "CONTROLLER"),
            Map.entry("inter.broker.listener.name", "PLAINTEXT"),
            Map.entry("log.dirs", dataDir.toString()),
            // a single node: every internal topic has one replica
            Map.entry("offsets.topic.replication.factor", "1"),
            Map.entry("offsets.topic.num.partitions", "5"),
            Map.entry("transaction.state.log.replication.factor", "1"),
            Map.entry("transaction.state.log.min.isr", "1"),
            Map.entry("transaction.state.log.num.partitions", "5"),
            Map.entry("share.coordinator.state.topic.replication.factor", "1"),
            Map.entry("share.coordinator.state.topic.min.isr", "1"),
            Map.entry("share.coordinator.state.topic.num.partitions", "5"),
            Map.entry("default.replication.factor", "1"),
            Map.entry("min.insync.replicas", "1"),
            Map.entry("num.partitions", "1"),
            Map.entry("log.retention.check.interval.ms", "60000")));
    p.putAll(BEHAVIOUR);
    return p;
  }

  /**
   * How the broker behaves towards Reelay, whoever runs it: the embedded broker and the Docker one of
   * the tests ({@code DockerKafka}) get exactly these, so a machine with Docker tests the same thing.
   */
  static final Map<String, String> BEHAVIOUR = Map.ofEntries(
      // topics are created on purpose (by the worker / tests), never by a typo
      Map.entry("auto.create.topics.enable", "false"),
      // fast rebalances: classic groups don't wait, KIP-848 groups heartbeat every 0.5 s
      Map.entry("group.initial.rebalance.delay.ms", "0"),
      Map.entry("group.consumer.heartbeat.interval.ms", "500"),
      Map.entry("group.consumer.min.heartbeat.interval.ms", "500"),
      // a dead KIP-848 member's partitions move after 10 s, as a classic worker's do by default
      Map.entry("group.consumer.session.timeout.ms", "10000"),
      Map.entry("group.consumer.min.session.timeout.ms", "6000"));

  private static void format(Path dataDir, Properties props, String clusterId) {
    Path file = dataDir.resolve("server.properties.format");
    ByteArrayOutputStream buffer = new ByteArrayOutputStream();
    try {
      try (OutputStream out = Files.newOutputStream(file)) {
        props.store(out, "written by EmbeddedKafka to format the log dir");
      }
      int rc;
      try (PrintStream ps = new PrintStream(buffer, true, StandardCharsets.UTF_8)) {
        rc = StorageTool.execute(new String[] {"format", "-t", clusterId, "-c", file.toString()}, ps);
      }
      if (rc != 0) {
        throw new IllegalStateException(
            "formatting Kafka data dir " + dataDir + " failed (" + rc + "): " + buffer.toString(StandardCharsets.UTF_8));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (Exception e) {
      if (e instanceof IllegalStateException ise) {
        throw ise;
      }
      throw new IllegalStateException("formatting Kafka data dir " + dataDir + " failed: " + e, e);
    } finally {
      try {
        Files.deleteIfExists(file);
      } catch (IOException ignored) {
        // only a leftover temp file
      }
    }
  }

  /** The cluster id of a formatted data dir, or null. */
  static String readClusterId(Path dataDir) {
    Path meta = dataDir.resolve(META_PROPERTIES);
    if (!Files.isRegularFile(meta)) {
      return null;
    }
    Properties p = new Properties();
    try (InputStream in = Files.newInputStream(meta)) {
      p.load(in);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + meta, e);
    }
    String id = p.getProperty("cluster.id");
    if (id == null || id.isBlank()) {
      throw new IllegalStateException(meta + " has no cluster.id");
    }
    return id.trim();
  }

  private static void awaitReady(int port) {
    long deadline = System.nanoTime() + STARTUP_TIMEOUT.toNanos();
    while (!accepts(port)) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("Kafka broker did not open 127.0.0.1:" + port + " within " + STARTUP_TIMEOUT);
      }
      sleep(50);
    }
    // the port opens before the broker is unfenced: wait until it reports itself in the cluster
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, "127.0.0.1:" + port);
    p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
    try (Admin admin = Admin.create(p)) {
      long remaining = Math.max(1_000, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()));
      admin.describeCluster().nodes().get(remaining, TimeUnit.MILLISECONDS);
    } catch (Exception e) {
      throw new IllegalStateException("Kafka broker on 127.0.0.1:" + port + " did not become ready: " + e, e);
    }
  }

  private static boolean accepts(int port) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 200);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  private static int requireFree(int port) {
    try (ServerSocket s = new ServerSocket()) {
      s.setReuseAddress(true);
      s.bind(new InetSocketAddress("127.0.0.1", port));
      return port;
    } catch (IOException e) {
      throw new IllegalStateException("127.0.0.1:" + port + " is already in use (another Kafka running?)", e);
    }
  }

  private static int freePort(int... avoid) {
    for (int attempt = 0; attempt < 20; attempt++) {
      try (ServerSocket s = new ServerSocket()) {
        s.setReuseAddress(false);
        s.bind(new InetSocketAddress("127.0.0.1", 0));
        int p = s.getLocalPort();
        boolean clash = false;
        for (int a : avoid) {
          clash |= a == p;
        }
        if (!clash) {
          return p;
        }
      } catch (IOException e) {
        throw new UncheckedIOException("no free local port", e);
      }
    }
    throw new IllegalStateException("no free local port");
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for Kafka", e);
    }
  }

  /**
   * {@code reelay kafka}: a broker in the foreground until SIGTERM/Ctrl-C.
   *
   * <p>Arguments (all optional): {@code [port] [dataDir] [controllerPort]}; otherwise the
   * environment: {@code REELAY_KAFKA_PORT} (else the port of {@code REELAY_KAFKA_BOOTSTRAP}, else
   * 9092), {@code REELAY_KAFKA_DATA} ({@code var/kafka}),
   * {@code REELAY_KAFKA_CONTROLLER_PORT} (0 = a free one).
   */
  public static void main(String[] args) throws InterruptedException {
    int port = Integer.parseInt(arg(args, 0, "REELAY_KAFKA_PORT", portOf(System.getenv("REELAY_KAFKA_BOOTSTRAP"), "9092")));
    Path dataDir = Path.of(arg(args, 1, "REELAY_KAFKA_DATA", "var/kafka"));
    int controllerPort = Integer.parseInt(arg(args, 2, "REELAY_KAFKA_CONTROLLER_PORT", "0"));
    EmbeddedKafka kafka;
    try {
      kafka = start(new Settings(dataDir, port, controllerPort, true));
    } catch (RuntimeException e) {
      System.err.println("kafka failed to start: " + e.getMessage());
      System.exit(1);
      return;
    }
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  kafka.close();
                  stopped.countDown();
                },
                "reelay-kafka-shutdown"));
    System.out.println("kafka ready on " + kafka.bootstrapServers() + " (data in " + kafka.dataDir() + ")");
    System.out.flush();
    stopped.await();
  }

  /** The port of the first {@code host:port} of a bootstrap list, or {@code fallback}. */
  static String portOf(String bootstrap, String fallback) {
    if (bootstrap == null || bootstrap.isBlank()) {
      return fallback;
    }
    String first = bootstrap.split(",")[0].trim();
    int colon = first.lastIndexOf(':');
    return colon < 0 || colon == first.length() - 1 ? fallback : first.substring(colon + 1);
  }

  private static String arg(String[] args, int index, String env, String fallback) {
    if (args.length > index && !args[index].isBlank()) {
      return args[index];
    }
    String v = System.getenv(env);
    return v == null || v.isBlank() ? fallback : v;
  }
}
