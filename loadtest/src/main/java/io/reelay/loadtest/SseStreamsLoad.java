package io.reelay.loadtest;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.management.OperatingSystemMXBean;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.reelay.protocol.Json;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.HdrHistogram.Histogram;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;

/**
 * Opens N concurrent {@code /run_sse} streams against one nemo-sim process, holds them, and reports
 * what it took: streams opened / failed / dropped, time to open them all, time to the response headers,
 * heap after GC and CPU on both sides. The simulator runs as a child JVM (or at {@code --sim-url}):
 * each stream costs a socket on both sides, and 10,000 of them only fit under the 20,000 open-file
 * limit when client and simulator are separate processes.
 *
 * <p>Every stream sends {@code "[sim:text] [sim:hang] …"}: a free text-only turn whose stream then never
 * closes (heartbeats only), so all streams stay open for the whole hold with one token.
 *
 * <pre>
 * java -Xmx1g -cp "loadtest/target/classes:$(cat loadtest/target/classpath.txt)" io.reelay.loadtest.SseStreamsLoad \
 *   --streams 10000 --hold 60s [--open-rate 1000] [--time-scale 1.0] [--sim-heap 1g] [--sim-url http://127.0.0.1:8090]
 * </pre>
 */
public final class SseStreamsLoad {

  record Options(int streams, Duration hold, int openRate, double timeScale, String simHeap, String simUrl) {
    static Options parse(String[] args) {
      int streams = 2000;
      Duration hold = Duration.ofSeconds(60);
      int openRate = 1000;
      double timeScale = 1.0;
      String simHeap = "1g";
      String simUrl = null;
      for (int i = 0; i < args.length; i++) {
        String v = i + 1 < args.length ? args[i + 1] : "";
        switch (args[i]) {
          case "--streams" -> { streams = Integer.parseInt(v); i++; }
          case "--hold" -> { hold = ConfigFactory.parseString("d=" + v).getDuration("d"); i++; }
          case "--open-rate" -> { openRate = Integer.parseInt(v); i++; }
          case "--time-scale" -> { timeScale = Double.parseDouble(v); i++; }
          case "--sim-heap" -> { simHeap = v; i++; }
          case "--sim-url" -> { simUrl = v; i++; }
          default -> throw new IllegalArgumentException("unknown option " + args[i]);
        }
      }
      return new Options(streams, hold, openRate, timeScale, simHeap, simUrl);
    }
  }

  private static final Map<String, String> ATTRIBUTION =
      Map.of("X-Skill-Source", "reelay-loadtest", "X-Skill-Version", "0.1", "X-Skill-Platform", "loadtest");

  private final Options o;
  private final ActorSystem<Void> system;
  private final Http http;
  private final AtomicLong opened = new AtomicLong();
  private final AtomicLong failed = new AtomicLong();
  private final AtomicLong dropped = new AtomicLong();
  private final AtomicLong bytes = new AtomicLong();
  private final Histogram toHeaders = new Histogram(TimeUnit.MINUTES.toMicros(5), 3);
  private volatile boolean holding = true;

  private SseStreamsLoad(Options o) {
    this.o = o;
    int pool = Integer.highestOneBit(Math.max(1, o.streams() - 1)) << 1;
    // a host pool sized for N long-lived requests (the defaults open 4 connections and queue 32)
    Config config = ConfigFactory.parseString(String.join("\n",
            "pekko.http.host-connection-pool.max-connections = " + (o.streams() + 64),
            "pekko.http.host-connection-pool.max-open-requests = " + Math.max(pool, 1024),
            "pekko.http.host-connection-pool.response-entity-subscription-timeout = 60s",
            "pekko.http.host-connection-pool.client.idle-timeout = 10m",
            "pekko.http.client.idle-timeout = 10m",
            "pekko.http.client.connecting-timeout = 60s",
            "pekko.loglevel = ERROR"))
        .withFallback(ConfigFactory.load());
    this.system = ActorSystem.create(Behaviors.empty(), "sse-load", config);
    this.http = Http.get(system);
  }

  public static void main(String[] args) throws Exception {
    Options o = Options.parse(args);
    Process sim = null;
    String base = o.simUrl();
    if (base == null) {
      sim = startSim(o);
      base = awaitListening(sim);
    }
    SseStreamsLoad load = new SseStreamsLoad(o);
    int exit = 1;
    try {
      exit = load.run(base, sim) ? 0 : 1;
    } finally {
      load.system.terminate();
      if (sim != null) {
        sim.destroy();
        sim.waitFor(10, TimeUnit.SECONDS);
        sim.destroyForcibly();
      }
    }
    System.exit(exit);
  }

  private boolean run(String base, Process sim) throws Exception {
    System.out.printf(Locale.ROOT, "sim %s, %d streams, hold %s, open rate %d/s, time-scale %s%n", base, o.streams(), o.hold(),
        o.openRate(), o.timeScale());
    String token = json(post(base + "/api/auth/anonymous-token", null, Map.of("X-Client-Id", "loadtest-" + System.nanoTime())))
        .path("data").path("token").asText();
    // one backend session per stream, created 256 at a time
    long t0 = System.nanoTime();
    List<String> sessions = Source.range(1, o.streams())
        .mapAsyncUnordered(256, i -> post(base + "/api/tasks/me/with-session/nemo_agent", token, Map.of())
            .thenApply(r -> json(r).path("data").path("session_id").asText()))
        .runWith(Sink.seq(), system).toCompletableFuture().get(10, TimeUnit.MINUTES);
    System.out.printf(Locale.ROOT, "%d sessions in %.1f s%n", sessions.size(), (System.nanoTime() - t0) / 1e9);

    CpuClock clientCpu = CpuClock.self();
    CpuClock simCpu = sim != null ? CpuClock.of(sim.pid()) : null;
    long openStart = System.nanoTime();
    CompletableFuture<Void> allOpened = new CompletableFuture<>();
    AtomicLong settled = new AtomicLong();
    Source.from(sessions)
        .throttle(o.openRate(), Duration.ofSeconds(1))
        .runForeach(sid -> open(base, token, sid).whenComplete((ok, e) -> {
          if (settled.incrementAndGet() == o.streams()) allOpened.complete(null);
        }), system);
    allOpened.get(10, TimeUnit.MINUTES);
    double openSeconds = (System.nanoTime() - openStart) / 1e9;
    System.out.printf(Locale.ROOT, "opened %d, failed %d in %.1f s; holding for %s%n", opened.get(), failed.get(), openSeconds, o.hold());

    long holdStart = System.nanoTime();
    clientCpu.mark();
    if (simCpu != null) simCpu.mark();
    JsonNode simStats = null;
    for (long left = o.hold().toMillis(); left > 0; left -= 10_000) {
      Thread.sleep(Math.min(10_000, left));
      simStats = json(get(base + "/_sim/stats"));
      System.out.printf(Locale.ROOT, "  t+%3ds open(sim) %d, dropped %d, bytes in %d%n", (System.nanoTime() - holdStart) / 1_000_000_000,
          simStats.path("activeStreams").asLong(), dropped.get(), bytes.get());
    }
    double holdSeconds = (System.nanoTime() - holdStart) / 1e9;
    double clientCore = clientCpu.coreShareSinceMark(holdSeconds);
    double simCore = simCpu != null ? simCpu.coreShareSinceMark(holdSeconds) : Double.NaN;
    long stillOpenAtEnd = simStats == null ? -1 : simStats.path("activeStreams").asLong();

    System.gc();
    Thread.sleep(500);
    System.gc();
    long clientHeap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    long simHeap = sim != null ? heapAfterGc(sim.pid()) : -1;
    holding = false;

    System.out.println();
    System.out.println("| streams | opened | failed | dropped during hold | open at end (sim) | time to open all | headers p50 / p99 / max | client heap after GC | sim heap after GC | client CPU (hold) | sim CPU (hold) |");
    System.out.println("|---|---|---|---|---|---|---|---|---|---|---|");
    System.out.printf(Locale.ROOT, "| %,d | %,d | %d | %d | %,d | %.1f s | %d / %d / %d ms | %d MB (%.1f KB/stream) | %s | %.0f%% of a core | %s |%n",
        o.streams(), opened.get(), failed.get(), dropped.get(), stillOpenAtEnd, openSeconds,
        toHeaders.getValueAtPercentile(50) / 1000, toHeaders.getValueAtPercentile(99) / 1000, toHeaders.getMaxValue() / 1000,
        clientHeap >> 20, clientHeap / 1024.0 / Math.max(1, opened.get()),
        simHeap < 0 ? "n/a" : String.format(Locale.ROOT, "%d MB (%.1f KB/stream)", simHeap >> 20, simHeap / 1024.0 / Math.max(1, opened.get())),
        clientCore * 100, Double.isNaN(simCore) ? "n/a" : String.format(Locale.ROOT, "%.0f%% of a core", simCore * 100));
    return failed.get() == 0 && dropped.get() == 0 && opened.get() == o.streams();
  }

  /** One stream: POST /run_sse, count the time to the headers, then read (and count) bytes until the end of the hold. */
  private CompletionStage<Boolean> open(String base, String token, String sid) {
    long start = System.nanoTime();
    Map<String, Object> body = Map.of("app_name", "nemo_agent", "user_id", "me", "session_id", sid,
        "new_message", Map.of("parts", List.of(Map.of("text", "[sim:text] [sim:hang] what can you do?"))));
    HttpRequest req = HttpRequest.POST(base + "/run_sse")
        .withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, Json.bytes(body)))
        .addHeader(RawHeader.create("Authorization", "Bearer " + token))
        .addHeader(RawHeader.create("Accept", "text/event-stream"))
        .addHeaders(ATTRIBUTION.entrySet().stream().map(e -> (HttpHeader) RawHeader.create(e.getKey(), e.getValue())).toList());
    return http.singleRequest(req).handle((resp, e) -> {
      if (e != null || resp.status().intValue() != 200
          || !resp.entity().getContentType().mediaType().toString().startsWith("text/event-stream")) {
        failed.incrementAndGet();
        if (resp != null) resp.discardEntityBytes(system);
        if (failed.get() <= 5) System.err.println("stream failed: " + (e != null ? e : resp.status()));
        return false;
      }
      synchronized (toHeaders) {
        toHeaders.recordValue(Math.max(1, (System.nanoTime() - start) / 1000));
      }
      opened.incrementAndGet();
      resp.entity().getDataBytes()
          .runForeach(bs -> bytes.addAndGet(bs.size()), system)
          .whenComplete((d, err) -> { if (holding) dropped.incrementAndGet(); });
      return true;
    });
  }

  // ---- small HTTP helpers (setup only) ------------------------------------------------------------

  private CompletionStage<HttpResponse> post(String url, String token, Map<String, String> headers) {
    HttpRequest req = HttpRequest.POST(url).withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, "{\"task_name\":\"project\"}"));
    if (token != null) req = req.addHeader(RawHeader.create("Authorization", "Bearer " + token));
    for (Map.Entry<String, String> h : headers.entrySet()) req = req.addHeader(RawHeader.create(h.getKey(), h.getValue()));
    return http.singleRequest(req);
  }

  private CompletionStage<HttpResponse> get(String url) {
    return http.singleRequest(HttpRequest.GET(url));
  }

  private JsonNode json(CompletionStage<HttpResponse> response) throws Exception {
    return json(response.toCompletableFuture().get(60, TimeUnit.SECONDS));
  }

  private JsonNode json(HttpResponse response) {
    try {
      String body = response.entity().toStrict(30_000, system).toCompletableFuture().get(60, TimeUnit.SECONDS).getData().utf8String();
      return Json.mapper().readTree(body);
    } catch (Exception e) {
      throw new IllegalStateException("unreadable answer: " + response.status(), e);
    }
  }

  // ---- the simulator process ----------------------------------------------------------------------

  private static Process startSim(Options o) throws IOException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> cmd = new ArrayList<>(List.of(java, "-Xmx" + o.simHeap(), "-XX:+UseParallelGC",
        "-Dnemo-sim.port=0", "-Dnemo-sim.host=127.0.0.1", "-Dnemo-sim.time-scale=" + o.timeScale(),
        "-Dpekko.loglevel=WARNING",
        "-cp", System.getProperty("java.class.path"), "io.reelay.sim.NemoSim"));
    return new ProcessBuilder(cmd).redirectErrorStream(true).start();
  }

  private static final Pattern LISTENING = Pattern.compile("nemo-sim listening on (\\S+)");

  private static String awaitListening(Process sim) throws IOException {
    BufferedReader out = new BufferedReader(new InputStreamReader(sim.getInputStream(), StandardCharsets.UTF_8));
    String line;
    while ((line = out.readLine()) != null) {
      Matcher m = LISTENING.matcher(line);
      if (m.find()) {
        // keep draining its output (warnings) so the child never blocks on a full pipe
        Thread drain = new Thread(() -> {
          try {
            out.lines().forEach(l -> System.err.println("[sim] " + l));
          } catch (UncheckedIOException closed) {
            // the simulator was stopped
          }
        }, "sim-output");
        drain.setDaemon(true);
        drain.start();
        return m.group(1);
      }
      System.err.println("[sim] " + line);
    }
    throw new IOException("the simulator exited before listening");
  }

  /** Heap of another JVM after a full GC, via jcmd (same JDK). */
  private static long heapAfterGc(long pid) throws Exception {
    String jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd").toString();
    exec(jcmd, Long.toString(pid), "GC.run");
    String info = exec(jcmd, Long.toString(pid), "GC.heap_info");
    // the heap lines only (ParallelGC: PSYoungGen + ParOldGen; G1: "garbage-first heap"), not Metaspace
    long used = 0;
    boolean found = false;
    for (String line : info.split("\n")) {
      if (!line.contains("Gen ") && !line.contains("garbage-first heap")) continue;
      Matcher m = Pattern.compile("used (\\d+)K").matcher(line);
      if (m.find()) {
        used += Long.parseLong(m.group(1)) * 1024;
        found = true;
      }
    }
    return found ? used : -1;
  }

  private static String exec(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    p.waitFor(60, TimeUnit.SECONDS);
    return out;
  }

  /** CPU time of a process: this JVM through its MXBean, another through /proc/PID/stat (Linux). */
  private interface CpuClock {
    long cpuNanos();

    void mark();

    double coreShareSinceMark(double wallSeconds);

    static CpuClock self() {
      OperatingSystemMXBean os = (OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
      return new Marked(os::getProcessCpuTime);
    }

    static CpuClock of(long pid) {
      return new Marked(() -> {
        try {
          String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
          String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
          // fields 14 and 15 (utime, stime) in clock ticks of 1/100 s; f[0] is field 3
          return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * 10_000_000L;
        } catch (IOException e) {
          return 0L;
        }
      });
    }
  }

  private static final class Marked implements CpuClock {
    private final LongSupplier clock;
    private long mark;

    Marked(LongSupplier clock) {
      this.clock = clock;
    }

    public long cpuNanos() {
      return clock.getAsLong();
    }

    public void mark() {
      mark = cpuNanos();
    }

    public double coreShareSinceMark(double wallSeconds) {
      return (cpuNanos() - mark) / 1e9 / wallSeconds;
    }
  }
}
