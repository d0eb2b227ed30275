package io.reelay.loadtest.bench;

import com.fasterxml.jackson.databind.JsonNode;
import io.reelay.loadtest.report.Goal;
import io.reelay.loadtest.report.Report;
import io.reelay.loadtest.report.Series;
import io.reelay.protocol.Event;
import io.reelay.protocol.Json;
import io.reelay.protocol.Phase;
import io.reelay.protocol.RequestState;
import io.reelay.protocol.Topics;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.StringJoiner;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.HdrHistogram.Histogram;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.LogDirDescription;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.common.utils.Utils;

/**
 * The status service's Kafka Streams stores at scale: a million synthetic requests (two events
 * each, as workers leave them, their {@code at} spread over the last six days, inside the events
 * topic's seven-day retention) folded into the stores of one status process. Measured: how long
 * the first build takes, {@code GET /v1/requests/{id}} of random requests (open loop), the live
 * heap, RSS and the stores' size on disk per million requests, a restart with the state directory
 * kept (the goal: answering again within 10 s) and one from an empty directory (restored from the
 * changelog topics), a listing walked page by page. Every GET of a request inside the retention
 * must answer 200, the oldest ones included, after the build and after each restart.
 */
public final class StoreScenario implements Scenario {

  private static final int PARTITIONS = 12;
  private static final int TENANTS = 10;
  private static final int SESSIONS_PER_TENANT = 1_000;
  /** Where the requests' {@code at} lie: the last six days, inside the seven-day retention of events and stores. */
  private static final Duration SPREAD = Duration.ofDays(6);
  /** The oldest requests, each GET once after the build and after each restart. */
  private static final int OLDEST = 1_000;
  private static final String MARKER_TENANT = "markers";
  private static final double RESTART_GOAL_SECONDS = 10;
  private static final int LIST_LIMIT = 100;
  private static final int LIST_PAGES = 10;

  @Override
  public String name() {
    return "status-store";
  }

  @Override
  public String measures() {
    return "status served from Kafka Streams stores over 1,000,000 requests: restart with the state directory kept (goal ≤ 10 s) "
        + "and from an empty one, GET p50/p99, heap and disk per million; no request inside the retention answers 404";
  }

  static String tenant(int i) {
    return "tenant-" + (i % TENANTS);
  }

  static String id(int i) {
    return "ss-" + i;
  }

  static String apiKey(String tenant) {
    return "loadtest-key-" + tenant;
  }

  /** About one request in ten is still running; the others completed. */
  static boolean running(int i) {
    return i % 10 == 9;
  }

  @Override
  public Report run(Bench bench) throws Exception {
    int n = bench.count(20_000, 1_000_000);
    double rate = bench.rate(500, 2_000);
    int seconds = bench.seconds(5, 30);
    Duration patience = bench.quick() ? Duration.ofMinutes(3) : Duration.ofMinutes(30);
    Report report = new Report(name(), bench.quick()).command(bench.command(name()));
    try (Fleet fleet = new Fleet(bench.workDir().resolve(name()), bench.logLevel())) {
      Fleet.Kafka kafka = fleet.kafka(name(), PARTITIONS);
      Path stateDir = fleet.dir().resolve("store-state");
      Fleet.deleteTree(stateDir);
      String config = config(stateDir);
      String applicationId = kafka.prefix() + ".status"; // store.application-id left blank

      Published published = publish(kafka, n);
      progress("published %,d events in %.1f s (%,.0f/s)", published.events(), published.seconds(),
          published.events() / published.seconds());

      // the first build: every event folded into empty stores
      long t0 = System.nanoTime();
      Fleet.Part status = fleet.status("status-build", kafka, apiKey(MARKER_TENANT), config, "1g", patience);
      double buildReady = since(t0);
      awaitMarkers(status, published.markers(), published.events(), patience);
      double build = since(t0);
      double buildCpu = status.cpuSeconds();
      String metrics = Metrics.scrape(status.url());
      double consumed = Metrics.sum(metrics, "reelay_status_events_consumed_total", "");
      double ignored = Metrics.sum(metrics, "reelay_status_events_ignored_total", "");
      progress("built the stores in %.1f s (%,.0f events/s)", build, published.events() / build);

      long heap = status.liveHeapBytes();
      long rss = status.rssBytes();
      long disk = sizeOnDisk(stateDir);

      ExecutorService pool = Executors.newFixedThreadPool(2);
      HttpClient http = HttpClient.newBuilder().executor(pool).connectTimeout(Duration.ofSeconds(10)).build();
      Random random = new Random(42);
      String url = status.url();
      // warm the JIT of both sides at the full rate before the clock starts (cold, both answer many times slower)
      StatusScenario.drive(http, i -> randomGet(url, random, n), rate, bench.quick() ? 5 : 10, new Series("warm-up"));
      // a fifth of the rate first: what one GET costs when the service keeps up; then the full rate
      Series lightP99 = new Series("GET p99 per second at " + (int) (rate / 5) + "/s");
      StatusScenario.Result light = StatusScenario.drive(http, i -> randomGet(url, random, n), rate / 5, seconds, lightP99);
      Series p99 = new Series("GET p99 per second at " + (int) rate + "/s");
      double statusCpu0 = status.cpuSeconds();
      double driverCpu0 = Fleet.cpuSeconds(ProcessHandle.current().pid());
      Fleet.Part broker0 = fleet.parts().stream().filter(p -> p.name().equals("kafka")).findFirst().orElseThrow();
      double brokerCpu0 = broker0.cpuSeconds();
      long g0 = System.nanoTime();
      StatusScenario.Result gets = StatusScenario.drive(http, i -> randomGet(url, random, n), rate, seconds, p99);
      double getSeconds = since(g0);
      double statusCores = (status.cpuSeconds() - statusCpu0) / getSeconds;
      double driverCores = (Fleet.cpuSeconds(ProcessHandle.current().pid()) - driverCpu0) / getSeconds;
      double brokerCores = (broker0.cpuSeconds() - brokerCpu0) / getSeconds;
      Check oldest = checkOldest(http, url, n);
      Listed listed = list(http, url, tenant(0));
      progress("GETs at %,.0f/s: p50 %d ms, p99 %d ms; at %,.0f/s: p50 %d ms, p99 %d ms; %d not 200", rate / 5,
          light.latency().getValueAtPercentile(50), light.latency().getValueAtPercentile(99), rate,
          gets.latency().getValueAtPercentile(50), gets.latency().getValueAtPercentile(99), light.failed() + gets.failed());

      // a restart with the state directory kept: the stores are opened, nothing (or little) restored
      Stop stop1 = stop(status);
      long diskFlushed = sizeOnDisk(stateDir); // a graceful stop flushes the memtables: every store on disk
      Restart kept = restart(fleet, "status-kept", kafka, config, http, n, patience);
      Check oldestKept = checkOldest(http, kept.part().url(), n);
      progress("restart with the state directory kept: %.1f s", kept.answered());

      // a restart from an empty state directory: every store restored from its changelog topic
      Stop stop2 = stop(kept.part());
      Fleet.deleteTree(stateDir);
      Restart empty = restart(fleet, "status-empty", kafka, config, http, n, patience);
      Check oldestEmpty = checkOldest(http, empty.part().url(), n);
      long diskRestored = sizeOnDisk(stateDir);
      long rssRestored = empty.part().rssBytes();
      progress("restart from an empty state directory: %.1f s", empty.answered());
      pool.shutdownNow();
      Broker broker = brokerSizes(kafka, applicationId);

      double perMillion = 1e6 / n;
      report.setting("requests", String.format(Locale.ROOT, "%,d synthetic, 2 events each (seq 1 QUEUED, seq 2 COMPLETED with a "
              + "credits result or, one in ten, RUNNING), %d tenants × %,d sessions, their `at` spread evenly over the last %d days "
              + "(oldest first; the record timestamps too); %,d markers last, one per partition", n, TENANTS, SESSIONS_PER_TENANT,
              SPREAD.toDays(), published.markers().size()))
          .setting("events topic", PARTITIONS + " partitions, retention 7 days (reelay.topics.retention)")
          .setting("producer", "linger.ms 20, batch.size 256 KiB, lz4, acks 1")
          .setting("status service", "one process, -Xmx1g, its own state directory, store.rocksdb-memory 256 MiB (the default)"
              + ", the other store settings their defaults (standby-replicas 1 with no other "
              + "instance to hold a standby, retention 7 d, commit.interval.ms 5000)")
          .setting("GETs", String.format(Locale.ROOT, "%,.0f/s, then %,.0f/s, for %d s each after a warm-up, open loop on %d keep-alive connections "
              + "(2 client threads), ids drawn uniformly over all %,d requests, each with its tenant's API key", rate / 5, rate, seconds,
              StatusScenario.CONNECTIONS, n))
          .setting("restarts", "SIGTERM (a graceful stop, leaving the group), then a new process on the same config; timed from "
              + "its start to /readyz 200 and a GET of a random one of the " + OLDEST + " oldest requests answering 200");

      report.figure("requests", n).figure("events published", published.events())
          .figure("publish seconds", published.seconds())
          .figure("events published per second", published.events() / published.seconds())
          .figure("build: seconds from start to /readyz", buildReady)
          .figure("build: seconds from start until every marker answered (the stores complete)", build)
          .figure("build: events folded per second (from start)", published.events() / build)
          .figure("build: CPU seconds of the status process", buildCpu)
          .figure("events consumed (reelay_status_events_consumed)", consumed)
          .figure("events ignored (duplicates, unreadable, misrouted)", ignored)
          .figure("live heap after the build (MB)", heap / 1e6)
          .figure("live heap per million requests (MB)", heap / 1e6 * perMillion)
          .figure("RSS after the build (MB)", rss / 1e6)
          .figure("RSS per million requests (MB)", rss / 1e6 * perMillion)
          .figure("state directory after the build, running (MB; memtables not flushed yet)", disk / 1e6)
          .figure("state directory after a graceful stop (MB; every store flushed)", diskFlushed / 1e6)
          .figure("state directory per million requests, after the stop (MB)", diskFlushed / 1e6 * perMillion)
          .figure("state directory after the restore from the changelogs, running (MB; memtables not flushed yet)", diskRestored / 1e6)
          .figure("RSS after the restore from the changelogs (MB)", rssRestored / 1e6)
          .figure("changelog topics on the broker (MB)", broker.changelogs() < 0 ? Double.NaN : broker.changelogs() / 1e6)
          .figure("changelog topics per million requests (MB)",
              broker.changelogs() < 0 ? Double.NaN : broker.changelogs() / 1e6 * perMillion)
          .figure("events topic on the broker (MB)", broker.events() < 0 ? Double.NaN : broker.events() / 1e6)
          .figure("GETs answered 200 (both rates)", light.ok() + gets.ok())
          .figure("GETs not answered 200 (both rates)", light.failed() + gets.failed())
          .figure("GETs answered 404 (both rates)", light.notFound() + gets.notFound())
          .figure(String.format(Locale.ROOT, "GETs answered per second at %,.0f/s offered (first due to last answer)", rate),
              gets.answeredPerSecond())
          .figure(String.format(Locale.ROOT, "cores used at %,.0f/s: the status service", rate), statusCores)
          .figure(String.format(Locale.ROOT, "cores used at %,.0f/s: this client", rate), driverCores)
          .figure(String.format(Locale.ROOT, "cores used at %,.0f/s: the broker", rate),
              brokerCores)
          .figure(String.format(Locale.ROOT, "oldest %,d requests: age of the oldest (days)", oldest.asked()), oldest.ageDays())
          .figure("oldest requests answered 200 with their last state: after the build", oldest.right() + " of " + oldest.asked())
          .figure("… after the restart with the state directory kept", oldestKept.right() + " of " + oldestKept.asked())
          .figure("… after the restart from an empty state directory", oldestEmpty.right() + " of " + oldestEmpty.asked())
          .figure("listing: first page of " + tenant(0) + " (limit " + LIST_LIMIT + ")", listed.firstPage())
          .figure("listing: pages walked, requests listed", listed.pages() + " pages, " + listed.items() + " requests")
          .figure("listing: walk in updatedAt order, no request twice", listed.consistent() ? "yes" : "no")
          .figure("listing: milliseconds for the " + listed.pages() + " pages", listed.walkMs())
          .figure("restart, state kept: seconds SIGTERM to exit", stop1.seconds())
          .figure("restart, state kept: seconds to /readyz", kept.ready())
          .figure("restart, state kept: seconds until an old request answered", kept.answered())
          .figure("restart, empty state: seconds SIGTERM to exit", stop2.seconds())
          .figure("restart, empty state: seconds to /readyz (restored from the changelogs)", empty.ready())
          .figure("restart, empty state: seconds until an old request answered", empty.answered())
          .figure("cores on this machine (the broker, the status service and this client share them)",
              Runtime.getRuntime().availableProcessors());
      report.latency(String.format(Locale.ROOT, "GET /v1/requests/{id} of random requests at %,.0f/s (from when it was due)",
          rate / 5), light.latency());
      report.latency(String.format(Locale.ROOT, "GET /v1/requests/{id} of random requests at %,.0f/s (from when it was due)", rate),
          gets.latency());
      report.latency("GET /v1/requests/{id} of the " + oldest.asked() + " oldest, one at a time, after the build", oldest.latency());
      report.latency("GET /v1/requests?limit=" + LIST_LIMIT + " of one tenant, page by page", listed.latency());

      Goal restartGoal = Goal.atMost("restart with the state directory kept", RESTART_GOAL_SECONDS, kept.answered(), "s");
      if (!restartGoal.met()) {
        restartGoal = restartGoal.because(String.format(Locale.ROOT, "/readyz answered 200 after %.1f s and an old request %.1f s "
                + "after the start%s; the start is a JVM, the HTTP server, joining the group and opening %d partitions' stores, "
                + "with the broker and this client on the same %d cores%s; see %s", kept.ready(), kept.answered(),
            kept.lastAnswer().isEmpty() ? "" : " (answers before: " + kept.lastAnswer() + ")", PARTITIONS,
            Runtime.getRuntime().availableProcessors(),
            stop1.graceful() ? "" : "; the stopped process did not exit within 60 s and was killed, so its stores had no "
                + "final checkpoint and were restored from the changelogs", kept.part().log()));
      }
      report.goal(restartGoal);
      int lost = light.notFound() + gets.notFound() + oldest.notFound() + oldestKept.notFound() + oldestEmpty.notFound();
      Goal lostGoal = Goal.atMost("requests answered 404 among GETs of requests inside the retention", 0, lost, "requests");
      if (!lostGoal.met()) {
        lostGoal = lostGoal.because(String.format(Locale.ROOT, "%d of the random GETs, %d, %d and %d of the %d oldest after the "
                + "build, the restart with the state kept and the one from an empty directory; see %s", light.notFound() + gets.notFound(),
            oldest.notFound(), oldestKept.notFound(), oldestEmpty.notFound(), oldest.asked(), status.log()));
      }
      report.goal(lostGoal);
      report.plot("latency", "GET p99 per second (ms)", "ms", lightP99, p99);
      if (gets.answeredPerSecond() < 0.95 * rate) {
        report.note(String.format(Locale.ROOT, "**GETs at %,.0f/s.** The service answered %,.0f/s of the %,.0f offered, so GETs "
                + "queued and that latency is mostly the queue's (open loop: counted from when each was due); the status "
                + "service used %.2f cores, this client %.2f and the broker %.2f of the %d (the rest: the kernel, loopback "
                + "networking). The latency at %,.0f/s is what a GET costs when it keeps up.",
            rate, gets.answeredPerSecond(), rate, statusCores, driverCores, brokerCores, Runtime.getRuntime().availableProcessors(), rate / 5));
      }

      report.note(String.format(Locale.ROOT, "**What the figures mean.** The build is the time from starting the status process "
          + "(an empty state directory, a new application id) until a marker published after every request answers in each of "
          + "the %d partitions: the events topic read from the start and folded into the RocksDB stores, their changelogs "
          + "written as it goes. GETs follow a warm-up at the same rate (the JIT of the service and of this client). Latencies "
          + "are whole milliseconds, rounded up (a 0.3 ms answer counts as 1 ms). Heap is the live "
          + "heap after a full GC (`jcmd GC.run`): the stores are off-heap (RocksDB), so it is mostly the service's fixed "
          + "footprint and its \"per million\" is an upper bound, not a growth rate; compare a `--quick` run. RSS includes "
          + "RocksDB's block cache and memtables (bounded together by `store.rocksdb-memory`) and the JVM's own. The state "
          + "directory is every file under it (`<state-dir>/<application-id>/<task>/rocksdb/…` and the checkpoint files), "
          + "measured while running (after the build and after the restore: the newest changes still in memtables, not on "
          + "disk) and after the graceful stop (every store flushed: the per-million figure). It holds "
          + "RocksDB's LZ4-compressed SST files of both stores (the requests with their history, and the listing indexes by "
          + "tenant, session and age), so it is on-disk, compressed size. The changelog topics are their size on the broker "
          + "(`Admin.describeLogDirs`): every change written, compacted only when the log cleaner gets to it, uncompressed "
          + "unless the producer compresses, so larger than the state directory. The restart with the state kept opens the "
          + "stores from their checkpoints (a graceful stop writes them); the one from an empty directory reads both "
          + "changelogs back from offset 0. Each restart counts from the new process's start until `/readyz` answers 200 and a "
          + "random one of the %,d oldest requests (%.1f days old) answers 200.", PARTITIONS, OLDEST, oldest.ageDays()));
      report.note("**store.rocksdb-memory.** The status processes run with the default, 256 MiB: half of it for the "
          + "memtables of every store of the process (24 here: 2 stores × 12 partitions, each with a 4 MiB write buffer), half "
          + "for the block cache. An earlier run of this scenario found the old default, 64 MiB with a quarter for memtables, "
          + "too small for 24 stores: RocksDB flushed near-empty memtables on almost every write (thousands of SST files of a "
          + "few KB) and folded a few hundred events per second; the budget and its split were changed. RSS includes it.");
      report.note("**Retention.** Events carry `at` (and record timestamps) up to six days old: inside the events topic's seven-"
          + "day retention and `store.retention` (7 d by default, the same). The status service deletes a request "
          + "`store.retention` after its last event's `at`, by a wall-clock purge; none of these is old enough, so any 404 "
          + "among them would be a request lost by the stores, not one purged. The oldest " + OLDEST + " are each asked "
          + "after the build and after both restarts.");
    }
    return report;
  }

  /** The {@code reelay.status} lines of every status process of the run: its own state directory, a key per tenant. */
  static String config(Path stateDir) {
    StringJoiner keys = new StringJoiner(",");
    for (int t = 0; t < TENANTS; t++) {
      keys.add(apiKey(tenant(t)) + "=" + tenant(t));
    }
    keys.add(apiKey(MARKER_TENANT) + "=" + MARKER_TENANT);
    return "store { state-dir = " + Fleet.quoted(stateDir.toAbsolutePath().toString()) + " }\n"
        + "api-keys = " + Fleet.quoted(keys.toString());
  }

  private static HttpRequest randomGet(String url, Random random, int n) {
    int r = random.nextInt(n);
    return StatusScenario.get(url, apiKey(tenant(r)), id(r));
  }

  private static double since(long t0) {
    return (System.nanoTime() - t0) / 1e9;
  }

  private static void progress(String format, Object... args) {
    System.out.println("  " + String.format(Locale.ROOT, format, args));
  }

  record Published(int events, double seconds, List<String> markers) {}

  /**
   * Publishes {@code n} requests as workers would have left them, oldest first, their {@code at}
   * (and the records' timestamps) spread evenly over the last six days, then one marker request per
   * partition (found by the producer's own partitioner, so each lands where its key says).
   */
  static Published publish(Fleet.Kafka kafka, int n) throws Exception {
    String topic = kafka.topics().events();
    AtomicInteger failed = new AtomicInteger();
    AtomicReference<Exception> firstError = new AtomicReference<>();
    long t0 = System.nanoTime();
    List<String> markers = new ArrayList<>();
    int events = 0;
    try (KafkaProducer<String, byte[]> p = new KafkaProducer<>(Map.of(
        ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrap(),
        ProducerConfig.LINGER_MS_CONFIG, 20,
        ProducerConfig.BATCH_SIZE_CONFIG, 256 * 1024,
        ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4",
        ProducerConfig.ACKS_CONFIG, "1",
        ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, false,
        ProducerConfig.BUFFER_MEMORY_CONFIG, 64L << 20), new StringSerializer(), new ByteArraySerializer())) {
      long now = System.currentTimeMillis();
      long start = now - SPREAD.toMillis();
      long span = SPREAD.toMillis() - 60_000; // the newest a minute old
      for (int i = 0; i < n; i++) {
        String tenant = tenant(i);
        String id = id(i);
        String session = "session-" + ((i / TENANTS) % SESSIONS_PER_TENANT);
        String key = Topics.requestKey(tenant, id);
        long at = start + (long) ((double) i * span / n);
        Event queued = new Event(Event.VERSION, id, session, tenant, 1, Instant.ofEpochMilli(at), RequestState.QUEUED, Phase.QUEUED,
            "Queued", null, null, null);
        long lastAt = at + (running(i) ? 1_000 : 2_000);
        Event last = running(i)
            ? new Event(Event.VERSION, id, session, tenant, 2, Instant.ofEpochMilli(lastAt), RequestState.RUNNING, Phase.GENERATING,
                "Still working…", 0.4, null, null)
            : new Event(Event.VERSION, id, session, tenant, 2, Instant.ofEpochMilli(lastAt), RequestState.COMPLETED, Phase.DONE,
                "Done", 1.0, new Event.Result(null, null, new Event.Credits(9_000 - i % 1_000, 0, 9_000 - i % 1_000), null), null);
        send(p, new ProducerRecord<>(topic, null, at, key, Json.bytes(queued)), failed, firstError);
        send(p, new ProducerRecord<>(topic, null, lastAt, key, Json.bytes(last)), failed, firstError);
        events += 2;
      }
      boolean[] taken = new boolean[PARTITIONS];
      for (int j = 0; markers.size() < PARTITIONS; j++) {
        String id = "marker-" + j;
        String key = Topics.requestKey(MARKER_TENANT, id);
        int partition = Utils.toPositive(Utils.murmur2(key.getBytes(StandardCharsets.UTF_8))) % PARTITIONS;
        if (taken[partition]) {
          continue;
        }
        taken[partition] = true;
        markers.add(id);
        Event e = new Event(Event.VERSION, id, "markers", MARKER_TENANT, 1, Instant.now(), RequestState.COMPLETED, Phase.DONE, "Done",
            1.0, null, null);
        send(p, new ProducerRecord<>(topic, key, Json.bytes(e)), failed, firstError);
        events++;
      }
      p.flush();
    }
    if (failed.get() > 0) {
      throw new IllegalStateException(failed.get() + " events were not acknowledged by the broker", firstError.get());
    }
    return new Published(events, since(t0), markers);
  }

  private static void send(KafkaProducer<String, byte[]> p, ProducerRecord<String, byte[]> r, AtomicInteger failed,
      AtomicReference<Exception> firstError) {
    p.send(r, (meta, e) -> {
      if (e != null) {
        failed.incrementAndGet();
        firstError.compareAndSet(null, e);
      }
    });
  }

  /** Waits until every marker answers 200 (each partition folded up to its last event), telling the progress meanwhile. */
  static void awaitMarkers(Fleet.Part status, List<String> markers, int events, Duration patience) throws Exception {
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    long until = System.nanoTime() + patience.toNanos();
    long nextTold = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    Set<String> waiting = new HashSet<>(markers);
    while (!waiting.isEmpty()) {
      for (String id : List.copyOf(waiting)) {
        HttpResponse<Void> r = http.send(StatusScenario.get(status.url(), apiKey(MARKER_TENANT), id),
            HttpResponse.BodyHandlers.discarding());
        if (r.statusCode() == 200) {
          waiting.remove(id);
        }
      }
      if (waiting.isEmpty()) {
        return;
      }
      if (!status.process().isAlive()) {
        throw new IllegalStateException("the status service exited while building its stores; see " + status.log());
      }
      if (System.nanoTime() > until) {
        throw new IllegalStateException(waiting.size() + " of " + markers.size() + " partitions were not folded within "
            + patience.toMinutes() + " min; see " + status.log());
      }
      if (System.nanoTime() > nextTold) {
        double consumed = Metrics.sum(Metrics.scrape(status.url()), "reelay_status_events_consumed_total", "");
        progress("building: %,.0f of %,d events folded", consumed, events);
        nextTold = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      }
      Thread.sleep(250);
    }
  }

  /**
   * The oldest requests asked one at a time: how many answered 200 with their last state (seq 2),
   * how many 404, and their latencies (ms, rounded up).
   */
  private record Check(int asked, int right, int notFound, double ageDays, Histogram latency) {}

  private static Check checkOldest(HttpClient http, String url, int n) throws Exception {
    int asked = Math.min(OLDEST, n);
    int right = 0;
    int notFound = 0;
    Instant oldestAt = null;
    Histogram ms = new Histogram(TimeUnit.MINUTES.toMillis(10), 3);
    for (int i = 0; i < asked; i++) {
      long t0 = System.nanoTime();
      HttpResponse<String> r = http.send(StatusScenario.get(url, apiKey(tenant(i)), id(i)), HttpResponse.BodyHandlers.ofString());
      ms.recordValue(Math.max(1, (System.nanoTime() - t0 + 999_999) / 1_000_000));
      if (r.statusCode() == 404) {
        notFound++;
      } else if (r.statusCode() == 200) {
        JsonNode b = Json.mapper().readTree(r.body());
        String expected = (running(i) ? RequestState.RUNNING : RequestState.COMPLETED).name();
        if (expected.equals(b.path("state").asText()) && b.path("seq").asLong() == 2 && id(i).equals(b.path("requestId").asText())) {
          right++;
        }
        if (i == 0 && b.hasNonNull("updatedAt")) {
          oldestAt = Instant.parse(b.get("updatedAt").asText());
        }
      }
    }
    double age = oldestAt == null ? Double.NaN : Duration.between(oldestAt, Instant.now()).toMinutes() / (24 * 60.0);
    return new Check(asked, right, notFound, age, ms);
  }

  /** A listing walked page by page: the first page's answer, pages and requests seen, whether it held together, the time. */
  private record Listed(String firstPage, int pages, int items, boolean consistent, double walkMs, Histogram latency) {}

  private static Listed list(HttpClient http, String url, String tenant) throws Exception {
    HttpResponse<String> first = http.send(listing(url, tenant, null), HttpResponse.BodyHandlers.ofString());
    String firstPage;
    if (first.statusCode() == 200) {
      JsonNode b = Json.mapper().readTree(first.body());
      firstPage = String.format(Locale.ROOT, "200, %d requests (count %d), hasMore %s", b.path("requests").size(),
          b.path("count").asInt(), b.path("hasMore").asBoolean());
    } else {
      firstPage = Integer.toString(first.statusCode());
    }
    Histogram ms = new Histogram(TimeUnit.MINUTES.toMillis(10), 3);
    Set<String> seen = new HashSet<>();
    boolean consistent = first.statusCode() == 200;
    Instant previous = Instant.MAX;
    String after = null;
    int pages = 0;
    long t0 = System.nanoTime();
    while (pages < LIST_PAGES) {
      long p0 = System.nanoTime();
      HttpResponse<String> r = http.send(listing(url, tenant, after), HttpResponse.BodyHandlers.ofString());
      ms.recordValue(Math.max(1, (System.nanoTime() - p0 + 999_999) / 1_000_000));
      pages++;
      if (r.statusCode() != 200) {
        consistent = false;
        break;
      }
      JsonNode b = Json.mapper().readTree(r.body());
      for (JsonNode item : b.path("requests")) {
        Instant updated = Instant.parse(item.path("updatedAt").asText());
        consistent &= !updated.isAfter(previous) && seen.add(item.path("requestId").asText());
        previous = updated;
      }
      if (!b.path("hasMore").asBoolean()) {
        break;
      }
      after = b.path("nextAfter").asText();
    }
    double walkMs = (System.nanoTime() - t0) / 1e6;
    return new Listed(firstPage, pages, seen.size(), consistent, walkMs, ms);
  }

  private static HttpRequest listing(String url, String tenant, String after) {
    return HttpRequest.newBuilder(URI.create(url + "/v1/requests?limit=" + LIST_LIMIT + (after == null ? "" : "&after=" + after)))
        .header("Authorization", "Bearer " + apiKey(tenant)).timeout(Duration.ofSeconds(30)).build();
  }

  private record Stop(double seconds, boolean graceful) {}

  /** SIGTERM and up to 60 s for the exit (streams closed, checkpoints written), else kill -9. */
  private static Stop stop(Fleet.Part part) throws InterruptedException {
    long t0 = System.nanoTime();
    boolean graceful = part.stop(Duration.ofSeconds(60));
    if (!graceful) {
      part.kill();
    }
    return new Stop(since(t0), graceful);
  }

  /**
   * A restarted status process: seconds from its start to {@code /readyz} 200 and until a random one
   * of the oldest requests answered 200; what it answered before that.
   */
  private record Restart(Fleet.Part part, double ready, double answered, String lastAnswer) {}

  private static Restart restart(Fleet fleet, String name, Fleet.Kafka kafka, String config, HttpClient http, int n,
      Duration patience) throws Exception {
    long t0 = System.nanoTime();
    Fleet.Part p = fleet.status(name, kafka, apiKey(MARKER_TENANT), config, "1g", patience);
    double ready = since(t0);
    int r = new Random().nextInt(Math.min(OLDEST, n));
    List<Integer> before = new ArrayList<>();
    long until = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
    while (true) {
      int code = http.send(StatusScenario.get(p.url(), apiKey(tenant(r)), id(r)), HttpResponse.BodyHandlers.discarding()).statusCode();
      if (code == 200) {
        break;
      }
      before.add(code);
      if (System.nanoTime() > until) {
        throw new IllegalStateException("after the restart (" + name + ") " + id(r) + " never answered 200 (" + before.size()
            + " answers: " + before.subList(Math.max(0, before.size() - 5), before.size()) + "); see " + p.log());
      }
      Thread.sleep(50);
    }
    double answered = since(t0);
    String lastAnswer = before.isEmpty() ? "" : before.size() + " × not 200, the last " + before.get(before.size() - 1);
    return new Restart(p, ready, answered, lastAnswer);
  }

  /** Bytes of every file under {@code dir} (0 when it is missing). */
  static long sizeOnDisk(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return 0;
    }
    try (var paths = Files.walk(dir)) {
      return paths.filter(Files::isRegularFile).mapToLong(f -> {
        try {
          return Files.size(f);
        } catch (NoSuchFileException gone) {
          return 0; // a file RocksDB just compacted away
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }).sum();
    }
  }

  /** Sizes on the broker: the status application's changelog topics and the events topic; -1 when the broker would not say. */
  private record Broker(long changelogs, long events) {}

  private static Broker brokerSizes(Fleet.Kafka kafka, String applicationId) {
    try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrap()))) {
      List<Integer> brokers = admin.describeCluster().nodes().get(30, TimeUnit.SECONDS).stream().map(Node::id).toList();
      long changelogs = 0;
      long events = 0;
      for (Map<String, LogDirDescription> dirs : admin.describeLogDirs(brokers).allDescriptions().get(30, TimeUnit.SECONDS).values()) {
        for (LogDirDescription d : dirs.values()) {
          for (var e : d.replicaInfos().entrySet()) {
            String topic = e.getKey().topic();
            if (topic.startsWith(applicationId + "-") && topic.endsWith("-changelog")) {
              changelogs += e.getValue().size();
            } else if (topic.equals(kafka.topics().events())) {
              events += e.getValue().size();
            }
          }
        }
      }
      return new Broker(changelogs, events);
    } catch (Exception e) {
      return new Broker(-1, -1);
    }
  }
}
