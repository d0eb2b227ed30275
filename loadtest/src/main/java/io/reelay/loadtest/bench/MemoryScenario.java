package io.reelay.loadtest.bench;

import io.reelay.loadtest.report.Goal;
import io.reelay.loadtest.report.Report;
import io.reelay.loadtest.report.Series;
import io.reelay.protocol.Action;
import io.reelay.protocol.Json;
import io.reelay.protocol.Request;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The live heap of one worker while it sees a stream of distinct sessions, each a sign-in and one
 * short request, then idle for good. A worker that kept every session it saw would grow by the
 * kilobytes of each; one that passivates idle sessions to the sessions topic keeps only their place
 * in its index. Measured: the live heap (after a full GC) at ten points of the run, and its growth
 * per session seen between two points where every session seen had gone idle: after the first
 * tenth and at the end.
 */
public final class MemoryScenario implements Scenario {

  /** The most requests in hand at once: enough to keep the worker busy, few enough that "seen" means "finished". */
  private static final int OUTSTANDING = 2_000;
  private static final Pattern HISTOGRAM_LINE = Pattern.compile("^\\s*\\d+:\\s+\\d+\\s+(\\d+)\\s+(\\S+)");
  /** What growth per session seen still counts as flat: a few times the index's 25–50 bytes, against kilobytes when kept. */
  static final double FLAT_BYTES_PER_SESSION = 100;

  @Override
  public String name() {
    return "memory";
  }

  @Override
  public String measures() {
    return "live heap of one worker after it has seen 1,000,000 distinct sessions; goal: flat (growth ≤ "
        + (int) FLAT_BYTES_PER_SESSION + " bytes per session seen)";
  }

  @Override
  public Report run(Bench bench) throws Exception {
    int sessions = bench.count(20_000, 1_000_000);
    double timeScale = 0.001;
    int idleSeconds = 3;
    Report report = new Report(name(), bench.quick()).command(bench.command(name()));
    try (Fleet fleet = new Fleet(bench.workDir().resolve(name()), bench.logLevel())) {
      Fleet.Kafka kafka = fleet.kafka(name(), 12);
      Fleet.Part sim = fleet.sim(Sims.loadProfile(timeScale), "3g");
      Fleet.Part worker = fleet.worker("worker", kafka, sim.url(),
          "max-active-requests = " + OUTSTANDING + "\nsession-idle-timeout = " + idleSeconds + "s", "calls-per-second = 0", "1g");
      AtomicLong ended = new AtomicLong();
      AtomicBoolean reading = new AtomicBoolean(true);
      Thread reader = countCompletions(kafka, ended, reading);
      Series heap = new Series("live heap, MB");
      Series resident = new Series("sessions in the heap, thousands");
      Series indexed = new Series("sessions indexed, ten-thousands");
      long t0 = System.nanoTime();
      double[] firstIdle = null;
      Map<String, Long> firstHistogram = Map.of();
      try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
          kafka.bootstrap(), ProducerConfig.LINGER_MS_CONFIG, 5), new StringSerializer(), new ByteArraySerializer())) {
        int sent = 0;
        int nextPoint = sessions / 10;
        int firstIdleAt = sessions / 10;
        long deadline = t0 + Duration.ofMinutes(bench.quick() ? 3 : 90).toNanos();
        while (ended.get() < sessions && System.nanoTime() < deadline) {
          while (sent < sessions && sent - ended.get() < OUTSTANDING) {
            String session = "m" + sent;
            Request r = new Request(Request.VERSION, "mem-" + sent, session, null, null, Action.CREDITS, null, null, null, null,
                null, Instant.now());
            producer.send(new ProducerRecord<>(kafka.topics().requests(), session, Json.bytes(r)));
            sent++;
          }
          producer.flush();
          Thread.sleep(20);
          if (firstIdle == null && sent >= firstIdleAt) {
            // the first tenth seen and gone idle: the heap every later session is compared with
            firstIdle = idlePoint(worker, sent, ended, idleSeconds, t0, heap, resident, indexed);
            firstHistogram = histogram(worker);
          } else if (ended.get() >= nextPoint) {
            point(worker, ended.get(), t0, heap, resident, indexed);
            nextPoint += sessions / 10;
          }
        }
      } finally {
        reading.set(false);
      }
      double seconds = (System.nanoTime() - t0) / 1e9;
      // every session seen and gone idle: what stays in the heap for sessions no longer in hand
      double[] settled = idlePoint(worker, (int) ended.get(), ended, idleSeconds, t0, heap, resident, indexed);
      String growth = growth(firstHistogram, histogram(worker), settled[0] - (firstIdle == null ? 0 : firstIdle[0]));
      double perSession = firstIdle == null || settled[0] == firstIdle[0] ? Double.NaN
          : (settled[1] - firstIdle[1]) / (settled[0] - firstIdle[0]);
      report.setting("sessions", String.format(Locale.ROOT, "%,d distinct, one credits request each (a sign-in and a call), "
              + "at most %,d in hand", sessions, OUTSTANDING))
          .setting("worker", "one process, -Xmx1g, session-idle-timeout " + idleSeconds + " s")
          .setting("simulator", "own process, -Xmx3g, time-scale " + timeScale);
      report.figure("sessions seen (requests ended)", ended.get()).figure("run seconds", seconds)
          .figure("sessions per second", ended.get() / seconds)
          .figure("sessions seen at the first idle point", firstIdle == null ? Double.NaN : firstIdle[0])
          .figure("live heap at the first idle point (MB)", firstIdle == null ? Double.NaN : firstIdle[1] / 1e6)
          .figure("live heap at the end, all idle (MB)", settled[1] / 1e6)
          .figure("sessions in the heap at the end", settled[2]).figure("sessions indexed at the end", settled[3])
          .figure("RSS at the end (MB)", worker.rssBytes() / 1e6);
      Goal g = Goal.atMost("live-heap growth per session seen", FLAT_BYTES_PER_SESSION, perSession, "bytes");
      if (ended.get() < sessions) {
        g = g.because(String.format(Locale.ROOT, "only %,d of %,d sessions were seen within the run's time", ended.get(), sessions));
      } else if (!g.met()) {
        g = g.because(String.format(Locale.ROOT, "the heap grew from %,.0f MB to %,.0f MB; %,.0f sessions were still in the heap "
            + "at the end; see %s", firstIdle[1] / 1e6, settled[1] / 1e6, settled[2], worker.log()));
      }
      report.goal(g);
      report.note("What grew between the two idle points, by class (live objects, `jcmd GC.class_histogram`), in bytes per "
          + "session seen in between: " + growth + ".");
      report.plot("heap", "One worker's live heap while it sees new sessions", "MB / thousands", heap, resident, indexed);
      report.note("Each session signs in (an anonymous token), makes one short request and is never used again. After "
          + "session-idle-timeout the worker stops its actor and, once its snapshot is on `reelay.sessions` and Kafka "
          + "acknowledged it, drops it from the heap but for its snapshot's offset in the worker's index (a 64-bit hash and an "
          + "offset: 16 bytes in an open-addressing table kept at most three-quarters full). A request for such a session "
          + "reads the snapshot back from that offset first. Live heap is measured after a full GC (`jcmd GC.run`). The peer "
          + "has no counterpart: a shell keeps nothing between videos.");
    }
    return report;
  }

  /**
   * Waits until the {@code sent} requests ended and their sessions had time to go idle, then takes
   * a {@link #point}: what the heap holds for sessions no longer in hand.
   */
  private static double[] idlePoint(Fleet.Part worker, int sent, AtomicLong ended, int idleSeconds, long t0, Series heap,
      Series resident, Series indexed) throws Exception {
    long deadline = System.nanoTime() + Duration.ofMinutes(5).toNanos();
    while (ended.get() < sent && System.nanoTime() < deadline) {
      Thread.sleep(50);
    }
    Thread.sleep((idleSeconds + 3) * 1000L);
    return point(worker, ended.get(), t0, heap, resident, indexed);
  }

  /** Sessions seen, live heap (bytes), sessions in the heap and indexed, now; each also added to its series. */
  private static double[] point(Fleet.Part worker, long seen, long t0, Series heap, Series resident, Series indexed)
      throws Exception {
    long live = worker.liveHeapBytes();
    String metrics = Metrics.scrape(worker.url());
    double inHeap = Metrics.sum(metrics, "reelay_worker_sessions_resident", "");
    double inIndex = Metrics.sum(metrics, "reelay_worker_sessions_indexed", "");
    double t = (System.nanoTime() - t0) / 1e9;
    heap.add(t, live / 1e6);
    resident.add(t, inHeap / 1e3);
    indexed.add(t, inIndex / 1e4);
    return new double[] {seen, live, inHeap, inIndex};
  }

  /** Bytes of live objects per class in the worker (after a full GC). */
  private static Map<String, Long> histogram(Fleet.Part worker) throws Exception {
    Map<String, Long> bytes = new HashMap<>();
    for (String line : worker.jcmd("GC.class_histogram").split("\n")) {
      Matcher m = HISTOGRAM_LINE.matcher(line);
      if (m.find()) {
        bytes.merge(m.group(2), Long.parseLong(m.group(1)), Long::sum);
      }
    }
    return bytes;
  }

  /** The classes that grew most from {@code before} to {@code after}, in bytes per one of {@code sessions}. */
  private static String growth(Map<String, Long> before, Map<String, Long> after, double sessions) {
    if (before.isEmpty() || after.isEmpty() || sessions <= 0) {
      return "not measured";
    }
    return after.entrySet().stream()
        .map(e -> Map.entry(e.getKey(), e.getValue() - before.getOrDefault(e.getKey(), 0L)))
        .sorted(Map.Entry.<String, Long>comparingByValue().reversed()).limit(6)
        .map(e -> String.format(Locale.ROOT, "`%s` %+.1f", e.getKey(), e.getValue() / sessions))
        .collect(Collectors.joining(", "));
  }

  /** Counts the terminal events on {@code completions} (a request of a new session each: its end is the session seen). */
  private static Thread countCompletions(Fleet.Kafka kafka, AtomicLong ended, AtomicBoolean reading) {
    KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(Map.of(
        ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrap(),
        ConsumerConfig.GROUP_ID_CONFIG, kafka.prefix() + "-memory-reader",
        ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
        ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false), new StringDeserializer(), new ByteArrayDeserializer());
    consumer.subscribe(List.of(kafka.topics().completions()));
    Thread t = new Thread(() -> {
      try (consumer) {
        while (reading.get()) {
          ended.addAndGet(consumer.poll(Duration.ofMillis(100)).count());
        }
      }
    }, "loadtest-memory-completions");
    t.setDaemon(true);
    t.start();
    return t;
  }
}
