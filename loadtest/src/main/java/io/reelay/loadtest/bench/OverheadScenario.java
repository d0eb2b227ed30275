package io.reelay.loadtest.bench;

import io.reelay.loadtest.peer.Peer;
import io.reelay.loadtest.report.Goal;
import io.reelay.loadtest.report.Report;
import io.reelay.loadtest.report.Series;
import io.reelay.protocol.Action;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;

/**
 * What Reelay adds to a request's latency, at a fixed offered rate: from the producer's send to the
 * terminal event read back from Kafka, minus the backend's time as the worker measured its own
 * calls ({@code reelay_backend_calls}). Requests are sent on a fixed schedule (an open loop: a slow
 * answer does not slow the offered load), and each latency is counted from when it was due, so a
 * stall is not hidden (no coordinated omission).
 */
public final class OverheadScenario implements Scenario {

  @Override
  public String name() {
    return "overhead";
  }

  @Override
  public String measures() {
    return "end-to-end latency minus the backend's time, at a fixed 200 requests/s: p50, p99, p99.9; goal p99 ≤ 50 ms";
  }

  @Override
  public Report run(Bench bench) throws Exception {
    double rate = bench.rate(200, 200);
    int seconds = bench.seconds(20, 120);
    int sessions = 400;
    double timeScale = 0.001;
    Report report = new Report(name(), bench.quick()).command(bench.command(name()));
    try (Fleet fleet = new Fleet(bench.workDir().resolve(name()), bench.logLevel())) {
      Fleet.Kafka kafka = fleet.kafka(name(), 12);
      Fleet.Part sim = fleet.sim(Sims.loadProfile(timeScale), "1g");
      Fleet.Part worker = fleet.worker("worker", kafka, sim.url(), "", "calls-per-second = 0", ThroughputScenario.WORKER_HEAP);
      try (Traffic traffic = new Traffic(kafka.bootstrap(), kafka.topics())) {
        traffic.warm("o", sessions, Action.CREDITS, Duration.ofMinutes(3));
        // the same load first, unmeasured, until the JIT of every process has compiled the path
        int warmSeconds = bench.quick() ? 10 : 60;
        Offered warmUp = offer(traffic, sessions, rate, warmSeconds);
        traffic.awaitAll(warmUp.ids(), Duration.ofMinutes(3));
        String before = Metrics.scrape(worker.url());

        CpuShare cpu = new CpuShare(fleet);
        int total = (int) Math.round(rate * seconds);
        Offered run = offer(traffic, sessions, rate, seconds);
        long t0 = run.t0();
        List<String> ids = run.ids();
        List<Long> due = run.due();
        int ended = traffic.awaitAll(ids, Duration.ofMinutes(2));
        String after = Metrics.scrape(worker.url());

        // the backend's share: the worker's own timing of its credits calls during the run
        double calls = Metrics.sum(after, "reelay_backend_calls_seconds_count", "endpoint=\"credits\"")
            - Metrics.sum(before, "reelay_backend_calls_seconds_count", "endpoint=\"credits\"");
        double callSeconds = Metrics.sum(after, "reelay_backend_calls_seconds_sum", "endpoint=\"credits\"")
            - Metrics.sum(before, "reelay_backend_calls_seconds_sum", "endpoint=\"credits\"");
        double backendMs = calls > 0 ? callSeconds * 1000 / calls : 0;

        Histogram e2e = new Histogram(3_600_000, 3);
        Histogram overhead = new Histogram(3_600_000, 3);
        Series p99 = new Series("overhead p99 per second");
        Series p50 = new Series("overhead p50 per second");
        Histogram window = new Histogram(3_600_000, 3);
        int windowSecond = 0;
        for (int i = 0; i < ids.size(); i++) {
          Traffic.Done d = traffic.done(ids.get(i));
          if (d == null) {
            continue;
          }
          long ms = Math.max(0, (d.arrivedNanos() - due.get(i)) / 1_000_000);
          long extra = Math.max(0, Math.round(ms - backendMs));
          e2e.recordValue(ms);
          overhead.recordValue(extra);
          int second = (int) ((due.get(i) - t0) / 1_000_000_000L);
          if (second != windowSecond) {
            addWindow(window, windowSecond, p50, p99);
            window.reset();
            windowSecond = second;
          }
          window.recordValue(extra);
        }
        addWindow(window, windowSecond, p50, p99);

        report.setting("offered rate", rate + " requests/s for " + seconds + " s (" + total + " requests, open loop)")
            .setting("warm-up", warmSeconds + " s of the same load before the measured span, unmeasured")
            .setting("sessions", sessions).setting("worker", "one process, -Xmx" + ThroughputScenario.WORKER_HEAP)
            .setting("simulator", "own process, time-scale " + timeScale);
        report.figure("requests ended", ended).figure("of requests sent", total)
            .figure("backend time per request (worker's measure, ms)", backendMs)
            .figure("terminal events read twice", traffic.duplicates());
        report.latency("end to end (send → terminal event read)", e2e).latency("overhead (end to end − backend time)", overhead);
        Goal p99Goal = Goal.atMost("overhead p99 at " + (int) rate + " req/s", 50, overhead.getValueAtPercentile(99), "ms");
        if (bench.peer()) {
          Peer.Result peer = Peer.run(bench.repoRoot(), sim.url(), "credits", bench.quick() ? 30 : 200, 8, timeScale,
              Duration.ofMinutes(2));
          report.latency("peer: one credits check, end to end", peer.latencyMs());
          p99Goal = p99Goal.withPeer(peer.latencyMs().getValueAtPercentile(99));
        }
        long lastArrival = ids.stream().map(traffic::done).filter(d -> d != null).mapToLong(Traffic.Done::arrivedNanos).max()
            .orElse(System.nanoTime());
        double achieved = ended / ((lastArrival - t0) / 1e9);
        cpu.report(report, (lastArrival - t0) / 1e9);
        report.figure("completed per second (offered " + (int) rate + ")", achieved);
        if (!p99Goal.met()) {
          int cores = Runtime.getRuntime().availableProcessors();
          p99Goal = p99Goal.because(overhead.getValueAtPercentile(50) > 50
              ? String.format(Locale.ROOT, "the worker completed %.0f requests/s of the %.0f offered, so requests queued and the "
                  + "latency is the queue's (p50 %d ms); see the throughput report for what limits it on %d shared cores", achieved,
                  rate, overhead.getValueAtPercentile(50), cores)
              : String.format(Locale.ROOT, "p50 is %d ms, so the tail is stalls, not the path: the broker, the worker, the simulator "
                  + "and the driver share %d cores, and a GC pause or a commit round in any of them lands on the requests in flight",
                  overhead.getValueAtPercentile(50), cores));
        }
        report.goal(p99Goal)
            .goal(Goal.atLeast("requests ended", total, ended, "requests"));
        report.plot("latency", "Overhead per second of the run (ms)", "ms", p50, p99);
        report.note("The peer's figure is a whole credits check by the seed's flow in a shell (a token, then the balance): what a "
            + "person scripting it waits, not an overhead.");
      }
    }
    return report;
  }

  /** Requests sent on a fixed schedule: their ids, when each was due, when the schedule began. */
  private record Offered(List<String> ids, List<Long> due, long t0) {}

  /** Sends {@code rate} credits requests a second for {@code seconds} over the warmed sessions, each at its due time. */
  private static Offered offer(Traffic traffic, int sessions, double rate, int seconds) {
    int total = (int) Math.round(rate * seconds);
    long interval = (long) (1e9 / rate);
    long t0 = System.nanoTime();
    List<String> ids = new ArrayList<>(total);
    List<Long> due = new ArrayList<>(total);
    for (int i = 0; i < total; i++) {
      long at = t0 + i * interval;
      long wait = at - System.nanoTime();
      if (wait > 0) {
        LockSupport.parkNanos(wait);
      }
      ids.add(traffic.send("o" + (i % sessions), Action.CREDITS, null));
      due.add(at);
    }
    traffic.flush();
    return new Offered(ids, due, t0);
  }

  private static void addWindow(Histogram window, int second, Series p50, Series p99) {
    if (window.getTotalCount() > 0) {
      p50.add(second, window.getValueAtPercentile(50));
      p99.add(second, window.getValueAtPercentile(99));
    }
  }
}
