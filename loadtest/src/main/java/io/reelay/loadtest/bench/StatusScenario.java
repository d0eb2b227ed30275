package io.reelay.loadtest.bench;

import io.reelay.loadtest.peer.Peer;
import io.reelay.loadtest.report.Goal;
import io.reelay.loadtest.report.Report;
import io.reelay.loadtest.report.Series;
import io.reelay.protocol.Event;
import io.reelay.protocol.Json;
import io.reelay.protocol.Phase;
import io.reelay.protocol.RequestState;
import io.reelay.protocol.Topics;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntFunction;
import java.util.stream.Stream;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The status service alone (its own process, fed from a real broker): {@code GET /v1/requests/{id}}
 * at a fixed offered rate (open loop, latency counted from when each request was due), then live
 * SSE watchers opened and held on requests still running, each seeing its heartbeats. The view is
 * filled with synthetic events first, as workers would have published them.
 */
public final class StatusScenario implements Scenario {

  private static final String KEY = "loadtest-key";

  @Override
  public String name() {
    return "status";
  }

  @Override
  public String measures() {
    return "status GET p99 at 5,000 requests/s and concurrent SSE watchers held; goals ≤ 5 ms and ≥ 1,000";
  }

  @Override
  public Report run(Bench bench) throws Exception {
    double rate = bench.rate(5000, 5000);
    int seconds = bench.seconds(10, 60);
    int watchers = bench.count(1000, 1000);
    int requests = 5000;
    Report report = new Report(name(), bench.quick()).command(bench.command(name()));
    try (Fleet fleet = new Fleet(bench.workDir().resolve(name()), bench.logLevel())) {
      Fleet.Kafka kafka = fleet.kafka(name(), 12);
      List<String> ids = publishView(kafka.bootstrap(), kafka.topics(), requests);
      Fleet.Part status = fleet.status(kafka, KEY,
          "limits { sse-watchers-per-tenant = " + (watchers + 100) + "\nsse-watchers = " + (watchers + 1000) + " }\n"
              + "sse-keep-alive = 2s", "1g");
      awaitView(status.url(), ids.get(ids.size() - 1));

      ExecutorService pool = Executors.newFixedThreadPool(2);
      HttpClient http = HttpClient.newBuilder().executor(pool).connectTimeout(Duration.ofSeconds(10)).build();
      // warm the JIT of both sides before the clock starts
      drive(http, status.url(), ids, rate / 5, 3, new Series("warm-up"));
      // a fifth of the rate first: what one GET costs when the service keeps up
      Series lightP99 = new Series("GET p99 per second at " + (int) (rate / 5) + "/s");
      Result light = drive(http, status.url(), ids, rate / 5, seconds, lightP99);
      Series p99 = new Series("GET p99 per second at " + (int) rate + "/s");
      Result gets = drive(http, status.url(), ids, rate, seconds, p99);

      Held held = holdWatchers(status.url(), ids, watchers, Duration.ofSeconds(bench.quick() ? 8 : 30));
      pool.shutdownNow();

      report.setting("offered rate", rate + " GET/s for " + seconds + " s (open loop on " + CONNECTIONS
              + " keep-alive connections, 2 client threads)")
          .setting("view", requests + " requests (synthetic events on the events topic)")
          .setting("status service", "one process, -Xmx1g; sse-watchers-per-tenant raised to " + (watchers + 100))
          .setting("heartbeats", "every 2 s (sse-keep-alive)");
      report.latency("GET /v1/requests/{id} at " + (int) (rate / 5) + "/s (from when it was due)", light.latency());
      report.latency("GET /v1/requests/{id} at " + (int) rate + "/s (from when it was due)", gets.latency());
      report.figure("GETs answered 200", gets.ok()).figure("GETs failed", gets.failed())
          .figure("GETs answered per second (first due to last answer)", gets.answeredPerSecond())
          .figure("cores on this machine (the status service and this client share them)", Runtime.getRuntime().availableProcessors())
          .figure("watchers opened (200)", held.opened()).figure("watchers still open at the end", held.open())
          .figure("watchers that saw a heartbeat in the last interval", held.beating());
      Goal latency = Goal.atMost("GET p99 at " + (int) rate + "/s", 5, gets.latency().getValueAtPercentile(99), "ms");
      if (bench.peer()) {
        Peer.Result peer = Peer.run(bench.repoRoot(), startSimForPeer(fleet).url(), "state", bench.quick() ? 30 : 120, 8, 0.001,
            Duration.ofMinutes(2));
        report.latency("peer: a state check the seed's way (token, session, state), end to end", peer.latencyMs());
        latency = latency.withPeer(peer.latencyMs().getValueAtPercentile(99));
      }
      if (!latency.met()) {
        latency = latency.because(gets.latency().getValueAtPercentile(50) > 5
            ? String.format(Locale.ROOT, "the status service answered %,.0f GETs/s of the %,.0f offered, so requests queued and the "
                + "latency is the queue's (p50 %d ms); the service, its broker and this client share %d cores",
                gets.answeredPerSecond(), rate, gets.latency().getValueAtPercentile(50), Runtime.getRuntime().availableProcessors())
            : String.format(Locale.ROOT, "p50 is %d ms: the tail is CPU queueing on %d cores shared by the service and this client",
                gets.latency().getValueAtPercentile(50), Runtime.getRuntime().availableProcessors()));
      }
      report.goal(latency);
      Goal heldGoal = Goal.atLeast("SSE watchers held, each with live heartbeats", 1000, held.beating(), "watchers");
      report.goal(heldGoal.met() ? heldGoal : heldGoal.because(held.opened() + " opened, " + held.open()
          + " still open; see " + status.log()));
      report.plot("latency", "GET p99 per second (ms)", "ms", lightP99, p99);
      report.note("The peer has no status service: a script that wants to know where its work is asks the backend, the way the "
          + "seed's flow does (a token, a session, the state). Its figure is that check, end to end, in a shell.");
    }
    return report;
  }

  private static Fleet.Part startSimForPeer(Fleet fleet) throws Exception {
    return fleet.sim(Sims.loadProfile(0.001), "512m");
  }

  /** {@code n} requests as the workers would leave them: half finished, half still running (for the watchers). */
  private static List<String> publishView(String bootstrap, Topics topics, int n) throws Exception {
    List<String> ids = new ArrayList<>(n);
    try (KafkaProducer<String, byte[]> p = new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
        ProducerConfig.LINGER_MS_CONFIG, 5), new StringSerializer(), new ByteArraySerializer())) {
      for (int i = 0; i < n; i++) {
        String id = "st-" + i;
        ids.add(id);
        boolean running = i % 2 == 0;
        Event e = new Event(Event.VERSION, id, "session-" + (i % 500), "default", 2, Instant.now(),
            running ? RequestState.RUNNING : RequestState.COMPLETED, running ? Phase.GENERATING : Phase.DONE,
            running ? "Still working…" : "Done", running ? 0.4 : 1.0, null, null);
        p.send(new ProducerRecord<>(topics.events(), Topics.requestKey("default", id), Json.bytes(e)));
      }
      p.flush();
    }
    return ids;
  }

  private static void awaitView(String url, String lastId) throws Exception {
    HttpClient http = HttpClient.newHttpClient();
    long until = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
    while (System.nanoTime() < until) {
      HttpResponse<Void> r = http.send(get(url, lastId), HttpResponse.BodyHandlers.discarding());
      if (r.statusCode() == 200) {
        return;
      }
      Thread.sleep(200);
    }
    throw new IllegalStateException("the status view did not show the synthetic requests within 2 min");
  }

  private static HttpRequest get(String url, String id) {
    return get(url, KEY, id);
  }

  /** {@code GET /v1/requests/{id}} with {@code apiKey} as the Bearer key. */
  static HttpRequest get(String url, String apiKey, String id) {
    return HttpRequest.newBuilder(URI.create(url + "/v1/requests/" + id)).header("Authorization", "Bearer " + apiKey)
        .timeout(Duration.ofSeconds(10)).build();
  }

  /**
   * What a GET run gave: the latencies (of the 200s), the answers — {@code failed} every other answer
   * or error, {@code notFound} the 404s among them — and the rate they came back at (from the first
   * due to the last answer).
   */
  record Result(Histogram latency, int ok, int failed, int notFound, double answeredPerSecond) {}

  /** Connections the client keeps to the status service (keep-alive); a request due while all are busy waits for one. */
  static final int CONNECTIONS = 64;

  private static Result drive(HttpClient http, String url, List<String> ids, double rate, int seconds, Series p99) throws Exception {
    return drive(http, i -> get(url, ids.get(i % ids.size())), rate, seconds, p99);
  }

  /**
   * Sends {@code request.apply(i)} for i = 0, 1, … at {@code rate} per second for {@code seconds}, open
   * loop on at most {@link #CONNECTIONS} at once: each latency is counted from when its GET was due,
   * so a server that falls behind shows as latency. {@code p99} gets each second's p99 (ms).
   */
  static Result drive(HttpClient http, IntFunction<HttpRequest> request, double rate, int seconds, Series p99) throws Exception {
    long highest = TimeUnit.MINUTES.toMicros(10);
    Histogram all = new Histogram(highest, 3); // microseconds
    Recorder window = new Recorder(highest, 3);
    AtomicInteger ok = new AtomicInteger();
    AtomicInteger failed = new AtomicInteger();
    AtomicInteger notFound = new AtomicInteger();
    Semaphore connections = new Semaphore(CONNECTIONS);
    long interval = (long) (1e9 / rate);
    int total = (int) (rate * seconds);
    long t0 = System.nanoTime();
    List<CompletableFuture<Void>> inFlight = new ArrayList<>(total);
    int nextSecond = 1;
    for (int i = 0; i < total; i++) {
      long due = t0 + i * interval;
      long wait = due - System.nanoTime();
      if (wait > 0) {
        LockSupport.parkNanos(wait);
      }
      connections.acquire(); // a late request still counts from when it was due: a slow server shows as latency
      inFlight.add(http.sendAsync(request.apply(i), HttpResponse.BodyHandlers.discarding())
          .handle((r, err) -> {
            connections.release();
            long us = Math.max(1, (System.nanoTime() - due) / 1000);
            if (err == null && r.statusCode() == 200) {
              ok.incrementAndGet();
              window.recordValue(Math.min(us, highest));
            } else {
              failed.incrementAndGet();
              if (err == null && r.statusCode() == 404) {
                notFound.incrementAndGet();
              }
            }
            return null;
          }));
      if (System.nanoTime() - t0 >= nextSecond * 1_000_000_000L) {
        Histogram h = window.getIntervalHistogram();
        all.add(h);
        if (h.getTotalCount() > 0) {
          p99.add(nextSecond, h.getValueAtPercentile(99) / 1000.0);
        }
        nextSecond++;
      }
    }
    CompletableFuture.allOf(inFlight.toArray(CompletableFuture[]::new)).get(2, TimeUnit.MINUTES);
    all.add(window.getIntervalHistogram());
    Histogram ms = new Histogram(TimeUnit.MINUTES.toMillis(10), 3);
    // whole milliseconds, rounded up (a 0.3 ms answer counts as 1 ms)
    for (var v : all.recordedValues()) {
      ms.recordValueWithCount(Math.max(1, (v.getValueIteratedTo() + 999) / 1000), v.getCountAtValueIteratedTo());
    }
    return new Result(ms, ok.get(), failed.get(), notFound.get(), ok.get() / ((System.nanoTime() - t0) / 1e9));
  }

  private record Held(int opened, int open, int beating) {}

  /** Opens {@code n} live streams on running requests, holds them for {@code hold}, counts those still alive and beating. */
  private static Held holdWatchers(String url, List<String> ids, int n, Duration hold) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(2);
    HttpClient http = HttpClient.newBuilder().executor(pool).connectTimeout(Duration.ofSeconds(30)).build();
    AtomicInteger opened = new AtomicInteger();
    AtomicInteger open = new AtomicInteger();
    AtomicLongArray lastBeat = new AtomicLongArray(n);
    List<CompletableFuture<HttpResponse<Stream<String>>>> streams = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      String id = ids.get((2 * i) % ids.size()); // even: running
      int slot = i;
      streams.add(http.sendAsync(HttpRequest.newBuilder(URI.create(url + "/v1/requests/" + id + "/events"))
              .header("Authorization", "Bearer " + KEY).header("Accept", "text/event-stream").build(),
          HttpResponse.BodyHandlers.ofLines()).whenComplete((r, err) -> {
            if (err == null && r.statusCode() == 200) {
              opened.incrementAndGet();
              open.incrementAndGet();
              Thread reader = new Thread(() -> {
                try (Stream<String> lines = r.body()) {
                  lines.forEach(l -> lastBeat.set(slot, System.nanoTime()));
                } catch (RuntimeException closed) {
                  // the stream ended or was closed
                } finally {
                  open.decrementAndGet();
                }
              });
              reader.setDaemon(true);
              reader.start();
            }
          }));
      if (i % 100 == 99) {
        Thread.sleep(50); // a crowd arriving, not one burst of n handshakes
      }
    }
    // every stream answered (or refused) before the hold starts
    CompletableFuture.allOf(streams.toArray(CompletableFuture[]::new)).handle((x, e) -> null).get(2, TimeUnit.MINUTES);
    Thread.sleep(hold.toMillis());
    long recent = System.nanoTime() - TimeUnit.SECONDS.toNanos(5);
    int beating = 0;
    for (int i = 0; i < n; i++) {
      beating += lastBeat.get(i) > recent ? 1 : 0;
    }
    int stillOpen = open.get();
    pool.shutdownNow();
    return new Held(opened.get(), stillOpen, beating);
  }
}
