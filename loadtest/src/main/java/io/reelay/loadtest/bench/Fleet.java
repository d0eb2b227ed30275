package io.reelay.loadtest.bench;

import io.reelay.loadtest.report.Machine;
import io.reelay.protocol.Topics;
import io.reelay.worker.StateCipher;
import io.reelay.worker.TopicSetup;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;

/**
 * The processes of a scenario, each part in a JVM of its own as {@code reelay kafka}, {@code sim},
 * {@code worker} and {@code status-server} run them (their own mains, this JVM's class path), bound
 * to 127.0.0.1 on free ports, with their logs under the scenario's directory. Every part is waited
 * for until it answers (the broker its metadata, the others {@code /readyz} or their stats), and
 * all are stopped by {@link #close()}, also when the scenario fails.
 */
public final class Fleet implements AutoCloseable {

  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private static final Pattern RSS = Pattern.compile("VmRSS:\\s+(\\d+)\\s*kB");
  private static final Pattern HEAP_USED = Pattern.compile("used (\\d+)K");

  /** The broker of a run and the fresh topics (and so the consumer group) the run uses on it. */
  public record Kafka(String bootstrap, String prefix, Topics topics) {}

  /** One running part. */
  public record Part(String name, Process process, String url, Path log) {

    /** {@code kill -9}. */
    public void kill() throws InterruptedException {
      process.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
    }

    /** SIGTERM, then waits up to {@code grace} for the exit (a graceful stop: hand-over, leave the group). */
    public boolean stop(Duration grace) throws InterruptedException {
      process.destroy();
      return process.waitFor(grace.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** CPU time the process used so far (user + system, from {@code /proc}), in seconds; NaN when unknown. */
    public double cpuSeconds() {
      return Fleet.cpuSeconds(process.pid());
    }

    /** Resident memory of the process, from {@code /proc}; -1 when unknown. */
    public long rssBytes() {
      try {
        Matcher m = RSS.matcher(Files.readString(Path.of("/proc", Long.toString(process.pid()), "status")));
        return m.find() ? Long.parseLong(m.group(1)) * 1024 : -1;
      } catch (IOException e) {
        return -1;
      }
    }

    /** Live heap after a full GC ({@code jcmd GC.run}, then {@code GC.heap_info}); -1 when jcmd fails. */
    public long liveHeapBytes() {
      try {
        jcmd("GC.run");
        Matcher m = HEAP_USED.matcher(jcmd("GC.heap_info"));
        return m.find() ? Long.parseLong(m.group(1)) * 1024 : -1;
      } catch (IOException e) {
        return -1;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return -1;
      }
    }

    /** What {@code jcmd PID command} prints for this process. */
    String jcmd(String command) throws IOException, InterruptedException {
      Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(),
          Long.toString(process.pid()), command).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      p.waitFor(60, TimeUnit.SECONDS);
      return out;
    }
  }

  /** CPU seconds (user + system) process {@code pid} used so far; NaN when {@code /proc} cannot tell. */
  public static double cpuSeconds(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0; // utime, stime in clock ticks (USER_HZ = 100)
    } catch (IOException | RuntimeException e) {
      return Double.NaN;
    }
  }

  /** Every part started, in order. */
  public List<Part> parts() {
    return List.copyOf(parts);
  }

  private final Path dir;
  private final String logLevel;
  private final List<Part> parts = new ArrayList<>();
  private final String stateKey = StateCipher.newKey();

  public Fleet(Path dir, String logLevel) throws IOException {
    this.dir = Files.createDirectories(dir);
    this.logLevel = logLevel;
  }

  public Path dir() {
    return dir;
  }

  /** The open-file limit the parts inherit from this process (they hold a socket per stream). */
  public long openFileLimit() {
    return Machine.here().openFileLimit();
  }

  /** A broker in its own JVM ({@link #kafka()}) with fresh topics of {@code partitions} for {@code scenario}. */
  public Kafka kafka(String scenario, int partitions) throws Exception {
    return topics(kafka(), scenario, partitions);
  }

  /** Fresh topics of {@code partitions} (and so a fresh consumer group) for {@code scenario} on a broker already running. */
  public Kafka topics(String bootstrap, String scenario, int partitions) throws Exception {
    String prefix = uniquePrefix(scenario);
    Topics topics = Topics.withPrefix(prefix);
    TopicSetup.ensure(bootstrap, topics, partitions, (short) 1);
    return new Kafka(bootstrap, prefix, topics);
  }

  /**
   * Waits until the workers' group on {@code kafka} has {@code members} members holding every
   * partition of the requests topic (a rebalance after a worker joined has settled); false on timeout.
   */
  public static boolean awaitGroup(Kafka kafka, int members, Duration timeout) throws Exception {
    String group = kafka.prefix() + "-workers";
    try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrap()))) {
      int partitions = admin.describeTopics(List.of(kafka.topics().requests())).allTopicNames().get(30, TimeUnit.SECONDS)
          .get(kafka.topics().requests()).partitions().size();
      long until = System.nanoTime() + timeout.toNanos();
      while (System.nanoTime() < until) {
        ConsumerGroupDescription d = admin.describeConsumerGroups(List.of(group)).all().get(30, TimeUnit.SECONDS).get(group);
        long held = d.members().stream().mapToLong(m -> m.assignment().topicPartitions().size()).sum();
        if (d.members().size() == members && held == partitions) {
          return true;
        }
        Thread.sleep(100);
      }
    }
    return false;
  }

  /** A KRaft broker in its own JVM; answers its bootstrap address once it serves metadata. */
  public String kafka() throws Exception {
    int port = freePort();
    deleteTree(dir.resolve("kafka-data")); // a fresh broker every run: no topics of earlier runs to load
    deleteTree(dir.resolve("status-state")); // nor stores folded from an earlier run's broker
    Part p = start("kafka", "io.reelay.kafka.EmbeddedKafka", "512m", null,
        List.of(Integer.toString(port), dir.resolve("kafka-data").toString(), Integer.toString(freePort())), "127.0.0.1:" + port);
    String bootstrap = p.url();
    await(p, Duration.ofSeconds(90), () -> listening(port)); // before an admin client, which would warn meanwhile
    await(p, Duration.ofSeconds(90), () -> {
      try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
          AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 2000, AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 3000))) {
        return !admin.describeCluster().nodes().get(3, TimeUnit.SECONDS).isEmpty();
      } catch (Exception e) {
        return false;
      }
    });
    return bootstrap;
  }

  /** The simulator in its own JVM; {@code config}: HOCON lines under {@code nemo-sim { … }}. */
  public Part sim(String config, String heap) throws Exception {
    int port = freePort();
    Part p = start("sim", "io.reelay.sim.NemoSim", heap, "nemo-sim { port = " + port + "\nhost = \"127.0.0.1\"\n" + config + "\n}",
        List.of(), "http://127.0.0.1:" + port);
    await(p, Duration.ofSeconds(60), () -> ok(p.url() + "/_sim/stats"));
    return p;
  }

  /**
   * A worker in its own JVM on {@code kafka}'s topics (in the run's one consumer group) against
   * {@code backend}; {@code config}: HOCON lines under {@code reelay.worker { … }}; {@code nemo}:
   * under {@code reelay.nemo { … }}.
   */
  public Part worker(String name, Kafka kafka, String backend, String config, String nemo, String heap) throws Exception {
    String bootstrap = kafka.bootstrap();
    String prefix = kafka.prefix();
    String group = prefix + "-workers";
    int port = freePort();
    String conf = """
        reelay.kafka.bootstrap-servers = "%s"
        reelay.topics.prefix = "%s"
        reelay.nemo { base-url = "%s"
        %s
        }
        reelay.worker {
          group-id = "%s"
          state-key = "%s"
          http-host = "127.0.0.1"
          http-port = %d
          %s
        }
        """.formatted(bootstrap, prefix, backend, nemo, group, stateKey, port, config);
    Part p = start(name, "io.reelay.worker.Worker", heap, conf, List.of(), "http://127.0.0.1:" + port);
    await(p, Duration.ofSeconds(120), () -> ok(p.url() + "/readyz"));
    return p;
  }

  /**
   * The status service in its own JVM; {@code config}: HOCON lines under {@code reelay.status { … }}.
   * Its stores go to {@code <fleet dir>/status-state} unless {@code config} sets {@code state-dir}
   * (never the default {@code var/status} of the working directory, which a status service run by
   * hand may hold). Waits up to 120 s for {@code /readyz} (the stores restored).
   */
  public Part status(Kafka kafka, String apiKey, String config, String heap) throws Exception {
    return status("status", kafka, apiKey, config, heap, Duration.ofSeconds(120));
  }

  /**
   * As {@link #status(Kafka, String, String, String)}, as part {@code name} (its log and config file),
   * waiting up to {@code readyWithin} for {@code /readyz}: restoring large stores from their
   * changelogs takes a while.
   */
  public Part status(String name, Kafka kafka, String apiKey, String config, String heap, Duration readyWithin) throws Exception {
    String bootstrap = kafka.bootstrap();
    String prefix = kafka.prefix();
    int port = freePort();
    String store = config.contains("state-dir") ? ""
        : "store { state-dir = " + quoted(dir.resolve("status-state").toAbsolutePath().toString()) + " }";
    String conf = """
        reelay.kafka.bootstrap-servers = "%s"
        reelay.topics.prefix = "%s"
        reelay.status { host = "127.0.0.1"
        port = %d
        api-keys = "%s=default"
        %s
        %s
        }
        reelay.webhooks.enabled = false
        """.formatted(bootstrap, prefix, port, apiKey, store, config);
    Part p = start(name, "io.reelay.status.StatusServer", heap, conf, List.of(), "http://127.0.0.1:" + port);
    await(p, readyWithin, () -> ok(p.url() + "/readyz"));
    return p;
  }

  /** {@code s} as a HOCON (JSON) string. */
  static String quoted(String s) {
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }

  private Part start(String name, String mainClass, String heap, String config, List<String> args, String url) throws IOException {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx" + heap, "-XX:+UseG1GC", "-Djava.awt.headless=true", "-Dreelay.log.level=" + logLevel));
    if (config != null) {
      Path conf = dir.resolve(name + ".conf");
      Files.writeString(conf, "include \"application\"\n" + config + "\n", StandardCharsets.UTF_8);
      cmd.add("-Dconfig.file=" + conf);
    }
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), mainClass));
    cmd.addAll(args);
    Path log = dir.resolve(name + ".log");
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().keySet().removeIf(k -> k.startsWith("REELAY_") || k.startsWith("NEMO_") || k.startsWith("CONFIG_FORCE_"));
    Part p = new Part(name, pb.start(), url, log);
    parts.add(p);
    return p;
  }

  private static void await(Part p, Duration timeout, BooleanSupplier ready) throws Exception {
    long until = System.nanoTime() + timeout.toNanos();
    while (!ready.getAsBoolean()) {
      if (!p.process().isAlive()) {
        throw new IllegalStateException(p.name() + " exited with " + p.process().exitValue() + " before it was ready; see " + p.log());
      }
      if (System.nanoTime() > until) {
        throw new IllegalStateException(p.name() + " not ready within " + timeout.toSeconds() + " s; see " + p.log());
      }
      Thread.sleep(200);
    }
  }

  static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root)) {
      return;
    }
    try (var paths = Files.walk(root)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }

  private static boolean listening(int port) {
    try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  static boolean ok(String url) {
    try {
      return HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(3)).build(),
          HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** A port free now on 127.0.0.1. */
  public static int freePort() {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A fresh topic prefix (and group names) for one run. */
  static String uniquePrefix(String scenario) {
    return "lt-" + scenario + "-" + UUID.randomUUID().toString().substring(0, 8);
  }

  @Override
  public void close() {
    // the reverse of the start order: workers and status before the broker they talk to
    for (int i = parts.size() - 1; i >= 0; i--) {
      Part p = parts.get(i);
      try {
        if (p.process().isAlive() && !p.stop(Duration.ofSeconds(20))) {
          p.kill();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        p.process().destroyForcibly();
      }
    }
  }
}
