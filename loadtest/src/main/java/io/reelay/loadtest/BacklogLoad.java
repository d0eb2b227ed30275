package io.reelay.loadtest;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.reelay.kafka.EmbeddedKafka;
import io.reelay.protocol.Event;
import io.reelay.protocol.Json;
import io.reelay.protocol.RequestState;
import io.reelay.protocol.Topics;
import io.reelay.sim.NemoSim;
import io.reelay.sim.SimSettings;
import io.reelay.worker.StateCipher;
import io.reelay.worker.TopicSetup;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * A large backlog drained by one worker with a small {@code max-active-requests}: does the worker's
 * memory stay flat while the backlog waits in Kafka, and what does each session it has seen cost?
 *
 * <p>The broker and the simulator run here; the worker runs in a JVM of its own ({@code
 * io.reelay.worker.Worker}, as {@code reelay worker} runs it), so its heap is measured alone: every
 * sample forces a full GC there ({@code jcmd GC.run}) and reads the live heap ({@code jcmd
 * GC.heap_info}). The whole backlog is published before the worker starts.
 *
 * <p>Usage: {@code java -cp "loadtest/target/classes:$(cat loadtest/target/classpath.txt)"
 * io.reelay.loadtest.BacklogLoad [requests=20000] [sessions=2000] [max-active=64] [time-scale=0.001]
 * [session-idle-timeout=10s] [fault mix, JSON for /_sim/faults]}; {@code -Dpairs=true}: one generation and
 * its export per session.
 */
public final class BacklogLoad {

  private static final Pattern HEAP_USED = Pattern.compile("used (\\d+)K");

  public static void main(String[] args) throws Exception {
    int requests = args.length > 0 ? Integer.parseInt(args[0]) : 20_000;
    int sessions = args.length > 1 ? Integer.parseInt(args[1]) : 2_000;
    int maxActive = args.length > 2 ? Integer.parseInt(args[2]) : 64;
    double ts = args.length > 3 ? Double.parseDouble(args[3]) : 0.001;
    String idle = args.length > 4 ? args[4] : "10s";
    String faults = args.length > 5 ? args[5] : null;
    // -Dkill-at=0.3: two workers; when 30 % of the backlog is done, the first is killed (SIGKILL)
    // -Dgroup-protocol=consumer: the workers form a KIP-848 group
    double killAt = Double.parseDouble(System.getProperty("kill-at", "0"));
    // -Dgenerate=true: every fourth request of a session is a generation (then exported)
    boolean generate = Boolean.getBoolean("generate");
    // -Dpairs=true: each session gets one generation and then an export of it, nothing else
    boolean pairs = Boolean.getBoolean("pairs");
    Path dir = Files.createTempDirectory("reelay-backlog");

    EmbeddedKafka kafka = EmbeddedKafka.start(EmbeddedKafka.Settings.of(dir.resolve("kafka")));
    Config config = ConfigFactory.parseMap(Map.of("nemo-sim.port", 0, "nemo-sim.time-scale", ts,
            "nemo-sim.credits-per-token", 1_000_000))
        .withFallback(ConfigFactory.load()).resolve();
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "backlog-load", config);
    NemoSim sim = NemoSim.start(system, SimSettings.from(config.getConfig("nemo-sim"))).toCompletableFuture().get(30, TimeUnit.SECONDS);
    List<Process> workers = new ArrayList<>();
    try {
      String bootstrap = kafka.bootstrapServers();
      String prefix = "backlog-" + UUID.randomUUID().toString().substring(0, 6);
      Topics topics = Topics.withPrefix(prefix);
      TopicSetup.ensure(bootstrap, topics, 6, (short) 1);

      if (faults != null) {
        HttpResponse<String> r = HttpClient.newHttpClient().send(
            HttpRequest.newBuilder(URI.create(sim.baseUrl() + "/_sim/faults"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(faults)).build(),
            HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
          throw new IllegalArgumentException("the simulator refused the fault mix: " + r.body());
        }
        System.out.println("fault mix: " + faults);
      }
      long t0 = System.nanoTime();
      publish(bootstrap, topics, requests, sessions, generate, pairs);
      System.out.printf(Locale.ROOT, "published %d requests over %d sessions in %.1f s%n", requests, sessions, (System.nanoTime() - t0) / 1e9);

      Path conf = dir.resolve("worker.conf");
      Files.writeString(conf, """
          include "application"
          reelay.kafka.bootstrap-servers = "%s"
          reelay.topics.prefix = "%s"
          reelay.nemo.base-url = "%s"
          reelay.nemo.calls-per-second = 0
          reelay.worker {
            group-id = "backlog-workers"
            state-key = "%s"
            max-active-requests = %d
            session-idle-timeout = %s
            # a cut stream is checked at the simulator's pace, not the vendor's 30 s / 60 s
            recovery { first-check = 1s, interval = 1s, max-unchanged = 5 }
            # renders polled at the simulator's pace (the vendor's 30 s grid, scaled)
            render-poll { grid = %dms, margin = 5ms, min-gap = 5ms }
            # -Dgroup-protocol=consumer: a KIP-848 group (the broker assigns; 10 s session timeout here)
            kafka-consumer { "group.protocol" = "%s" }
          }
          """.formatted(bootstrap, prefix, sim.baseUrl(), StateCipher.newKey(), maxActive, idle, Math.max(10, (long) (30_000 * ts)),
              System.getProperty("group-protocol", "classic")),
          StandardCharsets.UTF_8);
      for (int i = 0; i < (killAt > 0 ? 2 : 1); i++) {
        Path log = dir.resolve("worker-" + i + ".log");
        Process worker = new ProcessBuilder(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx1g", "-Dconfig.file=" + conf, "-Dreelay.log.level=" + System.getProperty("reelay.log.level", "WARN"), "-cp", System.getProperty("java.class.path"), "io.reelay.worker.Worker"))
            .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        workers.add(worker);
        System.out.printf(Locale.ROOT, "worker pid %d, max-active-requests %d, session-idle-timeout %s, time-scale %s; log %s%n",
            worker.pid(), maxActive, idle, ts, log);
      }
      Process worker = workers.get(workers.size() - 1); // the one measured (the survivor when one is killed)
      boolean killed = false;
      System.out.println("   t(s)  finished   backlog  req/s  live heap after full GC (MB)");

      Map<String, RequestStateCount> seen = new HashMap<>();
      Set<String> failedSessions = new TreeSet<>();
      EnumMap<RequestState, Integer> ends = new EnumMap<>(RequestState.class);
      Map<String, Integer> errors = new TreeMap<>();
      long start = System.nanoTime();
      long lastSample = 0;
      int lastFinished = 0;
      int finished = 0;
      try (KafkaConsumer<String, byte[]> c = consumer(bootstrap)) {
        c.subscribe(List.of(topics.completions()));
        while (finished < requests) {
          if (!worker.isAlive()) {
            throw new IllegalStateException("the worker exited with " + worker.exitValue() + "; see " + dir);
          }
          if (killAt > 0 && !killed && finished >= killAt * requests) {
            workers.get(0).destroyForcibly().waitFor();
            killed = true;
            System.out.printf(Locale.ROOT, "%7.0f  killed worker pid %d (SIGKILL) with %d finished%n",
                (System.nanoTime() - start) / 1e9, workers.get(0).pid(), finished);
          }
          for (ConsumerRecord<String, byte[]> r : c.poll(Duration.ofMillis(500))) {
            Event e = Json.read(r.value(), Event.class);
            RequestStateCount count = seen.computeIfAbsent(e.requestId(), k -> new RequestStateCount());
            count.ends.add(e.seq() + ":" + e.state() + (e.error() == null ? "" : ":" + e.error().code()));
            if (count.terminal++ == 0) {
              finished++;
              if (e.state() == RequestState.FAILED) {
                failedSessions.add(e.sessionKey());
              }
              ends.merge(e.state(), 1, Integer::sum);
              if (e.error() != null) {
                errors.merge(e.error().code(), 1, Integer::sum);
              }
            }
          }
          long now = System.nanoTime();
          if (now - lastSample > 5e9) {
            double t = (now - start) / 1e9;
            long heapKb = liveHeapKb(worker.pid());
            double rate = (finished - lastFinished) / ((now - lastSample) / 1e9);
            if (lastSample == 0) {
              rate = finished / t;
            }
            System.out.printf(Locale.ROOT, "%7.0f %9d %9d %6.0f  %.1f%n", t, finished, requests - finished, rate, heapKb / 1024.0);
            lastSample = now;
            lastFinished = finished;
          }
        }
      }
      double total = (System.nanoTime() - start) / 1e9;
      long duplicates = seen.values().stream().filter(s -> s.terminal > 1).count();
      // the same terminal event twice (same seq: a republished pending terminal) vs. two different ends
      long sameSeq = seen.values().stream().filter(s -> s.terminal > 1 && s.ends.stream().distinct().count() == 1).count();
      System.out.printf(Locale.ROOT, "of those, the same terminal event again (same seq and state): %d; examples of the others: %s%n", sameSeq,
          seen.entrySet().stream().filter(e -> e.getValue().terminal > 1 && e.getValue().ends.stream().distinct().count() > 1).limit(5)
              .map(e -> e.getKey() + "=" + e.getValue().ends).toList());
      System.out.printf(Locale.ROOT, "all %d finished in %.0f s (%.0f req/s); by state %s; error codes %s; requests with more than one terminal event: %d%n",
          finished, total, finished / total, ends, errors, duplicates);
      printStories(bootstrap, topics, failedSessions, 6);
      Thread.sleep(Duration.ofSeconds(2).toMillis());
      System.out.printf(Locale.ROOT, "live heap after the backlog, all sessions idle: %.1f MB%n", liveHeapKb(worker.pid()) / 1024.0);
      HttpResponse<String> r = HttpClient.newHttpClient().send(
          HttpRequest.newBuilder(URI.create(sim.baseUrl() + "/_sim/stats")).build(),
          HttpResponse.BodyHandlers.ofString());
      JsonNode stats = Json.mapper().readTree(r.body());
      if (faults != null) {
        System.out.println("faults injected: " + stats.path("faultsInjected"));
      }
      System.out.println("simulator: messages " + stats.path("messages") + ", repeated " + stats.path("repeatedMessages")
          + ", charged twice " + stats.path("chargedTwice")
          + ", generations " + stats.path("generations") + ", render submits " + stats.path("renderSubmits")
          + ", duplicate render submits " + stats.path("duplicateRenderSubmits"));
    } finally {
      for (Process worker : workers) {
        worker.destroy();
        worker.waitFor(60, TimeUnit.SECONDS);
      }
      sim.stop().toCompletableFuture().get(10, TimeUnit.SECONDS);
      system.terminate();
      kafka.close();
    }
  }

  private static final class RequestStateCount {
    int terminal;
    final List<String> ends = new ArrayList<>();
  }

  /** Round-robin over the sessions; per session: credits, state, a text question (SSE), with -Dgenerate a generation. */
  private static void publish(String bootstrap, Topics topics, int requests, int sessions, boolean generate, boolean pairs)
      throws Exception {
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(Map.of(
        ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap, ProducerConfig.ACKS_CONFIG, "all",
        ProducerConfig.LINGER_MS_CONFIG, "20"), new StringSerializer(), new StringSerializer())) {
      String run = UUID.randomUUID().toString().substring(0, 6);
      for (int i = 0; i < requests; i++) {
        int s = i % sessions;
        int nth = i / sessions;
        String session = "bl-" + run + "-" + s;
        String body = pairs ? (nth % 2 == 0
            ? "\"text\":\"generate a 5-second clip of a harbour at night\"" // one title: the simulator encodes its MP4 once
            : "\"action\":\"export\",\"text\":\"export\"")
            : switch (nth % (generate ? 4 : 3)) {
          case 0 -> "\"action\":\"credits\"";
          case 1 -> "\"action\":\"state\"";
          case 3 -> "\"text\":\"generate a 5-second clip of a lighthouse, take " + i + " [sim:no-fault]\"";
          default -> "\"text\":\"what can you do? (question " + i + ") [sim:text]\"";
        };
        String json = "{\"v\":1,\"requestId\":\"r-" + run + "-" + i + "\",\"sessionKey\":\"" + session + "\"," + body + "}";
        producer.send(new ProducerRecord<>(topics.requests(), session, json));
      }
      producer.flush();
    }
  }

  /** Every event of the requests of up to {@code most} of {@code sessions}, a line each: what a failure went through. */
  private static void printStories(String bootstrap, Topics topics, Set<String> sessions, int most) {
    Set<String> shown = sessions.stream().limit(most).collect(Collectors.toCollection(TreeSet::new));
    if (shown.isEmpty()) {
      return;
    }
    Map<String, List<String>> lines = new TreeMap<>();
    try (KafkaConsumer<String, byte[]> c = consumer(bootstrap)) {
      c.subscribe(List.of(topics.events()));
      long quiet = 0;
      while (quiet < 3) {
        var records = c.poll(Duration.ofMillis(1000));
        quiet = records.isEmpty() ? quiet + 1 : 0;
        for (ConsumerRecord<String, byte[]> r : records) {
          Event e = Json.read(r.value(), Event.class);
          if (shown.contains(e.sessionKey())) {
            lines.computeIfAbsent(e.sessionKey(), k -> new ArrayList<>()).add("  " + e.requestId() + " #" + e.seq() + " " + e.state()
                + " " + e.phase() + " " + e.message() + (e.error() == null ? "" : " [" + e.error().code() + "]"));
          }
        }
      }
    }
    System.out.println("what the requests of " + shown.size() + " of the " + sessions.size() + " sessions with a failure went through:");
    lines.forEach((session, ls) -> {
      System.out.println(session);
      ls.forEach(System.out::println);
    });
  }

  private static KafkaConsumer<String, byte[]> consumer(String bootstrap) {
    Map<String, Object> p = new HashMap<>();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.GROUP_ID_CONFIG, "backlog-reader-" + UUID.randomUUID());
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    return new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer());
  }

  /** The worker's live heap: a full GC there, then its used heap. */
  private static long liveHeapKb(long pid) throws IOException, InterruptedException {
    jcmd(pid, "GC.run");
    Matcher m = HEAP_USED.matcher(jcmd(pid, "GC.heap_info"));
    return m.find() ? Long.parseLong(m.group(1)) : -1;
  }

  private static String jcmd(long pid, String command) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(), Long.toString(pid), command)
        .redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    p.waitFor(30, TimeUnit.SECONDS);
    return out;
  }
}
