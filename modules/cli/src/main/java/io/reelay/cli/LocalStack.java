package io.reelay.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.reelay.kafka.EmbeddedKafka;
import io.reelay.nemo.NemoClient;
import io.reelay.nemo.NemoSettings;
import io.reelay.protocol.Topics;
import io.reelay.sim.NemoSim;
import io.reelay.sim.SimSettings;
import io.reelay.status.StatusServer;
import io.reelay.status.StatusSettings;
import io.reelay.worker.StateCipher;
import io.reelay.worker.TopicSetup;
import io.reelay.worker.Worker;
import io.reelay.worker.WorkerMetrics;
import io.reelay.worker.WorkerSettings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * The whole of Reelay in one process on 127.0.0.1: a real Kafka broker, the simulator, workers and
 * the status service. What {@code reelay demo} and {@code reelay up} run, and what end-to-end
 * tests run against.
 */
public final class LocalStack implements AutoCloseable {

  /**
   * What to start; a port of 0 means any free port.
   *
   * @param statusStateDir where the status service keeps its stores; null: a temporary directory,
   *     deleted on close
   */
  public record Options(
      Path kafkaDataDir, int kafkaPort, String externalBootstrap, int simPort, int statusPort,
      int workers, double timeScale, String apiKey, Topics topics, int partitions, Path statusStateDir) {

    /** With the status stores in a temporary directory (tests). */
    public Options(
        Path kafkaDataDir, int kafkaPort, String externalBootstrap, int simPort, int statusPort,
        int workers, double timeScale, String apiKey, Topics topics, int partitions) {
      this(kafkaDataDir, kafkaPort, externalBootstrap, simPort, statusPort, workers, timeScale, apiKey, topics, partitions, null);
    }
  }

  private final EmbeddedKafka kafka;
  private final ActorSystem<Void> system;
  private final NemoSim sim;
  private final List<Worker> workers = new ArrayList<>();
  private final StatusServer status;
  private final String bootstrap;
  private final Config config;
  private final Path temporaryState; // null: the caller's directory, kept

  private LocalStack(Config base, Options o) throws Exception {
    temporaryState = o.statusStateDir() == null ? Files.createTempDirectory("reelay-status-state") : null;
    Path stateDir = o.statusStateDir() == null ? temporaryState : o.statusStateDir();
    if (o.externalBootstrap() == null) {
      kafka = EmbeddedKafka.start(new EmbeddedKafka.Settings(o.kafkaDataDir(), o.kafkaPort(), 0, true));
      bootstrap = kafka.bootstrapServers();
    } else {
      kafka = null;
      bootstrap = o.externalBootstrap();
    }
    try {
      Config c = embeddedConfig(base, o, bootstrap);
      system = ActorSystem.create(Behaviors.empty(), "reelay", c);
      sim = NemoSim.start(system, SimSettings.from(c.getConfig("nemo-sim"))).toCompletableFuture().get(30, TimeUnit.SECONDS);
      config = ConfigFactory.parseMap(Map.of("reelay.nemo.base-url", sim.baseUrl())).withFallback(c);
      WorkerSettings ws = WorkerSettings.from(config);
      TopicSetup.ensure(bootstrap, o.topics(), o.partitions(), (short) 1);
      NemoClient client = new NemoClient(system, NemoSettings.from(config.getConfig("reelay.nemo")), WorkerMetrics.registry(system));
      for (int i = 0; i < o.workers(); i++) {
        workers.add(Worker.start(system, ws, client));
      }
      StatusSettings ss = StatusSettings.from(config.getConfig("reelay.status"));
      status = StatusServer.start(system, ss.withStore(ss.store().withStateDir(stateDir)), bootstrap, o.topics())
          .toCompletableFuture().get(30, TimeUnit.SECONDS);
      awaitReady(status);
    } catch (Exception e) {
      close();
      throw e;
    }
  }

  /** Waits until the status stores run (the topics exist: the workers made them), so the first GET finds them. */
  private static void awaitReady(StatusServer status) throws InterruptedException {
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!status.isReady()) {
      if (System.nanoTime() > until) {
        throw new IllegalStateException("the status service's stores did not start within 60 s (see its log)");
      }
      Thread.sleep(20);
    }
  }

  public static LocalStack start(Config base, Options o) throws Exception {
    return new LocalStack(base, o);
  }

  /**
   * The embedded defaults: the simulator at {@code time-scale} and the worker's waits scaled with
   * it, so a generation takes seconds and its progress still reads naturally.
   */
  static Config embeddedConfig(Config base, Options o, String bootstrap) {
    double ts = o.timeScale();
    Config w = base.getConfig("reelay.worker");
    Map<String, Object> m = new HashMap<>();
    m.put("reelay.kafka.bootstrap-servers", bootstrap);
    m.put("reelay.topics.prefix", prefixOf(o.topics()));
    m.put("reelay.topics.partitions", o.partitions());
    m.put("nemo-sim.port", o.simPort());
    // everything of a local stack is on this machine's loopback, whatever REELAY_SIM_HOST says (containers)
    m.put("nemo-sim.host", "127.0.0.1");
    m.put("nemo-sim.public-base-url", "");
    m.put("nemo-sim.time-scale", ts);
    m.put("reelay.status.port", o.statusPort());
    // one status instance: no other to keep standby copies on (Kafka Streams would warn at every rebalance)
    m.put("reelay.status.store.standby-replicas", 0);
    // the key made for this stack (if any) for tenant default, and whatever keys the user configured
    String configured = base.getString("reelay.status.api-keys").trim();
    String mine = o.apiKey() == null ? "" : o.apiKey() + "=default";
    m.put("reelay.status.api-keys", configured.isEmpty() ? mine : mine.isEmpty() ? configured : mine + "," + configured);
    m.put("reelay.worker.dev-mode", true);
    m.put("reelay.worker.http-port", 0); // several workers in one process: each on a free port of its own
    if (base.getString("reelay.worker.state-key").isBlank()) {
      // one key for every worker of this process (`up` passes the one kept in var/state-key), so a
      // snapshot written by one worker can be read by another
      m.put("reelay.worker.state-key", StateCipher.newKey());
    }
    m.put("reelay.worker.still-working-interval", scaled(w, "still-working-interval", ts));
    m.put("reelay.worker.recovery.first-check", scaled(w, "recovery.first-check", ts));
    m.put("reelay.worker.recovery.interval", scaled(w, "recovery.interval", ts));
    m.put("reelay.worker.render-poll.grid", scaled(w, "render-poll.grid", ts));
    m.put("reelay.worker.render-poll.margin", scaled(w, "render-poll.margin", ts));
    m.put("reelay.worker.render-poll.min-gap", scaled(w, "render-poll.min-gap", ts));
    Config n = base.getConfig("reelay.nemo");
    m.put("reelay.nemo.retry.rate-limit-wait", scaled(n, "retry.rate-limit-wait", ts));
    m.put("reelay.nemo.retry.initial", scaled(n, "retry.initial", ts));
    m.put("reelay.nemo.retry.max", scaled(n, "retry.max", ts));
    return ConfigFactory.parseMap(m).withFallback(base).resolve();
  }

  /** What {@code reelay up} allows webhooks to by default: this machine. */
  static final String LOOPBACK = "127.0.0.1/32,::1/128";

  /** {@code config} for local webhooks, and the line that says what changed (null: the user set both). */
  record LocalWebhooks(Config config, String note) {}

  /**
   * For a stack on this machine: webhooks may go to loopback ({@link #LOOPBACK}) and go out unsigned
   * for tenants without a secret, unless the user set {@code reelay.webhooks.allow} or {@code
   * allow-unsigned} (environment, config file or system property: anything but a reference.conf).
   */
  static LocalWebhooks localWebhooks(Config config) {
    Map<String, Object> m = new HashMap<>();
    List<String> what = new ArrayList<>();
    if (!setByUser(config, "reelay.webhooks.allow")) {
      m.put("reelay.webhooks.allow", LOOPBACK);
      what.add("to loopback (" + LOOPBACK + ")");
    }
    if (!setByUser(config, "reelay.webhooks.allow-unsigned")) {
      m.put("reelay.webhooks.allow-unsigned", true);
      what.add("unsigned for tenants without a secret");
    }
    if (m.isEmpty()) {
      return new LocalWebhooks(config, null);
    }
    return new LocalWebhooks(ConfigFactory.parseMap(m).withFallback(config),
        "webhooks may go " + String.join(" and ", what)
            + ", for local use (REELAY_WEBHOOK_ALLOW / REELAY_WEBHOOK_ALLOW_UNSIGNED to change)");
  }

  private static boolean setByUser(Config c, String path) {
    return c.hasPath(path) && !"reference.conf".equals(c.getValue(path).origin().resource());
  }

  private static String scaled(Config c, String key, double ts) {
    long ms = Math.max(100, (long) (c.getDuration(key).toMillis() * ts));
    return ms + "ms";
  }

  private static String prefixOf(Topics t) {
    return t.requests().substring(0, t.requests().length() - ".requests".length());
  }

  public String bootstrapServers() {
    return bootstrap;
  }

  public String simUrl() {
    return sim.baseUrl();
  }

  /** Each worker's /healthz, /readyz and /metrics, as {@code http://host:port}. */
  public List<String> workerUrls() {
    return workers.stream().map(Worker::httpUrl).toList();
  }

  public String statusUrl() {
    return status.baseUrl();
  }

  public Config config() {
    return config;
  }

  @Override
  public void close() {
    Duration wait = Duration.ofSeconds(20);
    for (Worker w : workers) {
      await(() -> w.stop().toCompletableFuture().get(wait.toSeconds(), TimeUnit.SECONDS));
    }
    // the status service and the simulator unbind through CoordinatedShutdown when the system stops
    if (system != null) {
      system.terminate();
      await(() -> system.getWhenTerminated().toCompletableFuture().get(wait.toSeconds(), TimeUnit.SECONDS));
    }
    if (kafka != null) {
      await(kafka::close);
    }
    if (temporaryState != null) {
      deleteTree(temporaryState);
    }
  }

  /** Deletes {@code dir} and everything under it, as far as it can (a temp dir left behind is harmless). */
  static void deleteTree(Path dir) {
    try (Stream<Path> s = Files.walk(dir)) {
      s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException ignored) {
      // what is left stays
    }
  }

  private interface Step {
    void run() throws Exception;
  }

  private static void await(Step s) {
    try {
      s.run();
    } catch (Exception e) {
      System.err.println("reelay: while stopping: " + e);
    }
  }
}
